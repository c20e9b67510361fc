public import ChatCore

/// The provider used when none is configured: deterministic, no network, clearly named
/// `mock`. It answers by quoting the user's last message, a word at a time, at `tokenDelay`.
public struct MockChatProvider: ChatProvider {
    public let tokenDelay: Duration
    public let models = [ModelInfo(id: "mock", provider: "mock")]

    public init(tokenDelay: Duration = .milliseconds(30)) {
        self.tokenDelay = tokenDelay
    }

    public static func reply(to message: String) -> [String] {
        let words = ("This is parley's built-in mock model. You said: " + message).split(separator: " ", omittingEmptySubsequences: true)
        return words.enumerated().map { index, word in index == 0 ? String(word) : " " + word }
    }

    public func complete(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        let tokens = Self.reply(to: request.messages.last { $0.role == .user }?.content ?? "")
        let promptTokens = request.messages.reduce(0) { $0 + $1.content.split(separator: " ").count }
        let delay = tokenDelay
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for token in tokens {
                        try await Task.sleep(for: delay)
                        continuation.yield(.delta(token))
                    }
                    continuation.yield(.finished(reason: "stop"))
                    continuation.yield(.usage(TokenUsage(promptTokens: promptTokens, completionTokens: tokens.count)))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
