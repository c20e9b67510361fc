/// An answer kept for a request seen before.
public struct CachedAnswer: Sendable, Equatable, Codable {
    public let content: String
    public let finishReason: String?
    public let promptTokens: Int
    public let completionTokens: Int

    public init(content: String, finishReason: String?, promptTokens: Int, completionTokens: Int) {
        self.content = content
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// Answers by request (`RESPONSE_CACHE_TTL`): the key is a digest of the model, the sampling
/// parameters and the whole context, so only an identical request gets the same answer.
public protocol ResponseCache: Sendable {
    func answer(for key: String) async throws -> CachedAnswer?
    func store(_ answer: CachedAnswer, for key: String, ttl: Duration) async throws
}
