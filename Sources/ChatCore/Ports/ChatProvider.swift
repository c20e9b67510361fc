/// One message of the context sent upstream.
public struct ContextMessage: Sendable, Equatable {
    public let role: Message.Role
    public let content: String

    public init(role: Message.Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// What a turn asks of a model.
public struct CompletionRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ContextMessage]
    public var temperature: Double?
    public var maxTokens: Int?
    /// Nucleus sampling, and sequences that end the answer (OpenAI's `top_p`, `stop`).
    public var topP: Double?
    public var stop: [String]?

    public init(model: String, messages: [ContextMessage], temperature: Double? = nil, maxTokens: Int? = nil, topP: Double? = nil,
                stop: [String]? = nil) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.topP = topP
        self.stop = stop
    }
}

/// What a provider streams back: text as it is generated, then why it stopped and what it cost.
public enum CompletionEvent: Sendable, Equatable {
    case delta(String)
    case finished(reason: String?)
    case usage(TokenUsage)
}

/// A model a provider serves.
public struct ModelInfo: Sendable, Equatable {
    public let id: String
    public let provider: String

    public init(id: String, provider: String) {
        self.id = id
        self.provider = provider
    }
}

/// Why a completion failed, in terms a turn can act on and a user can read.
public struct ProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The upstream could not be reached (after retries).
        case unreachable
        /// No first token, or no further token, in time.
        case timeout
        /// The upstream kept answering 429.
        case rateLimited
        /// The upstream refused the request (4xx): retrying will not help.
        case rejected
        /// The upstream failed (5xx after retries, a broken stream, an unreadable answer).
        case failed
    }

    public let kind: Kind
    /// The upstream's own words where it gave some; never the API key or the prompt.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}

/// Takes a completion's events where the provider decodes them, on whatever thread that is,
/// one at a time and in order. It must not block or wait.
public protocol CompletionSink: Sendable {
    func receive(_ event: CompletionEvent)
}

/// A source of completions: an OpenAI-compatible upstream, or the built-in mock.
public protocol ChatProvider: Sendable {
    var models: [ModelInfo] { get }
    /// Streams the completion. Cancelling the task that iterates the stream (or dropping the
    /// stream) stops the generation upstream at once.
    func complete(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error>
    /// Streams the completion into `sink` and returns when it has ended, throwing where the
    /// stream would; no event arrives after it returns. Cancelling the calling task stops the
    /// generation. A provider that decodes on a thread of its own hands each event over there,
    /// without the stream's task hop per token; the default reads `complete(_:)`.
    func complete(_ request: CompletionRequest, into sink: any CompletionSink) async throws
}

extension ChatProvider {
    public func complete(_ request: CompletionRequest, into sink: any CompletionSink) async throws {
        for try await event in complete(request) { sink.receive(event) }
    }
}

/// Hears how turns go, for metrics: time to the first token and how each turn ended.
public protocol TurnObserver: Sendable {
    func firstToken(model: String, after latency: Duration)
    /// `failure` is the error code of a failed turn (`upstream_timeout`, …), nil otherwise.
    func turnEnded(model: String, status: Message.Status, failure: String?, completionTokens: Int)
}
