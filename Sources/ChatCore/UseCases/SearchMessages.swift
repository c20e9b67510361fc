/// Finds the caller's messages holding every word and phrase of `q`; never another user's.
public struct SearchMessages: Sendable {
    let search: any MessageSearch

    public init(_ search: any MessageSearch) {
        self.search = search
    }

    public func callAsFunction(_ principal: Principal, q: String, limit: Int, cursor: String?) async throws -> Page<SearchHit> {
        try await search.search(try SearchQuery.parse(q), ownerID: principal.user.id, limit: limit, cursor: cursor)
    }
}
