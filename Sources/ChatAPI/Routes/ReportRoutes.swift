public import ChatCore
public import HTTPServer
public import Logging

/// `GET /v1/search` over the caller's messages, `GET /v1/usage/history` of the caller's usage,
/// and for administrators `GET /v1/admin/usage` of everyone's.
public enum ReportRoutes {
    public static func register(on router: inout RouterBuilder, search: any MessageSearch, reporting: UsageReporting,
                                auth authDeps: AuthDependencies, logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(authDeps)

        router.get("/v1/search", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 20, range: 1...100)
            guard let q = request.queryItems["q"] else { throw JSONBody.validation("q", "is required: the words to search for") }
            let page = try await SearchMessages(search)(principal, q: q, limit: limit, cursor: request.cursor)
            return JSONBody.response(ListDTO(items: page.items.map(SearchHitDTO.init), nextCursor: page.nextCursor))
        }
        router.get("/v1/usage/history", auth: auth) { request, principal in
            let days = try request.queryInteger("days", default: 30, range: 1...UsageHistory.maxDays)
            return JSONBody.response(UsageHistoryDTO(try await UsageHistory(reporting)(principal, days: days), reporting))
        }
        router.get("/v1/admin/usage", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 100, range: 1...500)
            let report = try await AdminUsage(reporting)(principal, from: request.queryItems["from"], to: request.queryItems["to"],
                                                         limit: limit, cursor: request.cursor)
            return JSONBody.response(AdminUsageDTO(report, reporting))
        }
    }
}
