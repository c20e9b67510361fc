public import ChatCore
public import HTTPClient
import FoundationEssentials
import JSONText
import Synchronization

/// Where an OpenAI-compatible upstream is and how patient to be with it. OpenAI, OpenRouter,
/// SambaNova, vLLM, Ollama and llama.cpp servers all speak this API.
public struct OpenAICompatibleConfiguration: Sendable {
    /// Up to and including the version, e.g. `https://api.openai.com/v1`.
    public var baseURL: String
    public var apiKey: String?
    public var models: [String]
    public var connectTimeout: Duration = .seconds(10)
    /// From sending the request to the first token, the wait for the response head included.
    public var firstTokenTimeout: Duration = .seconds(60)
    /// The longest a whole answer may take, retries included; nil: no ceiling.
    public var maxAnswerDuration: Duration?
    /// Between two pieces of the stream once tokens flow.
    public var idleTimeout: Duration = .seconds(30)
    /// Retries (connect errors, 429, 5xx), only before the first token.
    public var maxRetries: Int = 2
    public var backoffBase: Duration = .milliseconds(250)
    /// Longest `Retry-After` honoured; a longer one ends the turn as rate-limited.
    public var maxRetryAfter: Duration = .seconds(30)
    /// Sent with every request (an organisation header, or the mock's controls in tests).
    public var extraHeaders: [(String, String)] = []

    public init(baseURL: String, apiKey: String?, models: [String]) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.models = models
    }
}

/// Streams chat completions from an OpenAI-compatible upstream: `POST {base}/chat/completions`
/// with `stream: true` and `stream_options.include_usage`, read as Server-Sent Events.
public final class OpenAICompatibleProvider: ChatProvider {
    private let configuration: OpenAICompatibleConfiguration
    private let client: CurlHTTPClient
    public let models: [ModelInfo]
    /// The last readiness probe's answer and when it was taken.
    private let lastProbe = Mutex<(at: ContinuousClock.Instant, ok: Bool)?>(nil)

    public init(configuration: OpenAICompatibleConfiguration, client: CurlHTTPClient) {
        self.configuration = configuration
        self.client = client
        models = configuration.models.map { ModelInfo(id: $0, provider: "openai-compatible") }
    }

    public func complete(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: CompletionEvent.self, throwing: (any Error).self)
        let task = Task {
            do {
                try await complete(request, into: StreamSink(continuation: continuation))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Decodes the upstream's events on the HTTP client's thread as they arrive and hands
    /// them to `sink` there.
    public func complete(_ request: CompletionRequest, into sink: any CompletionSink) async throws {
        // Set at the first delta: from then on a failure ends the turn instead of retrying.
        let delivered = DeliveredFlag()
        let answerDeadline = configuration.maxAnswerDuration.map { ContinuousClock.now + $0 }
        var attempt = 0
        while true {
            do {
                try await attemptOnce(request, sink, delivered: delivered, answerDeadline: answerDeadline)
                return
            } catch let failure as AttemptFailure {
                guard failure.retryable, attempt < configuration.maxRetries, !delivered.value else { throw failure.error }
                attempt += 1
                try await CancellableSleep.for(failure.retryAfter ?? backoff(attempt))
            }
        }
    }

    /// Whether the upstream answers now: `GET {base}/models` with the key, a 2xx head within
    /// `timeout`. The answer is kept for `cacheFor`, so readiness probes every few seconds
    /// from a load balancer cost the upstream at most one request per period.
    public func isReachable(timeout: Duration = .seconds(3), cacheFor: Duration = .seconds(5)) async -> Bool {
        if let last = lastProbe.withLock({ $0 }), ContinuousClock.now - last.at < cacheFor { return last.ok }
        var headers: [(String, String)] = []
        if let key = configuration.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
        headers += configuration.extraHeaders
        let request = OutgoingRequest(url: configuration.baseURL + "/models", method: "GET", headers: headers,
                                      connectTimeout: min(timeout, configuration.connectTimeout))
        let client = self.client
        let ok = await withTaskGroup(of: Bool.self) { group in
            group.addTask { ((try? await client.send(request)).map { (200..<300).contains($0.status) }) ?? false }
            group.addTask {
                try? await CancellableSleep.for(timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        lastProbe.withLock { $0 = (ContinuousClock.now, ok) }
        return ok
    }

    /// An attempt's failure, and whether another attempt may help.
    struct AttemptFailure: Error {
        let error: ProviderError
        let retryable: Bool
        var retryAfter: Duration?
    }

    /// Exponential backoff with ±50% jitter, so many clients do not retry in step.
    private func backoff(_ attempt: Int) -> Duration {
        configuration.backoffBase * (1 << (attempt - 1)) * Double.random(in: 0.5...1.5)
    }

    /// One request upstream, watched from the moment it is sent: an upstream that accepts the
    /// connection and never answers is as overdue as one that answers and sends no token.
    private func attemptOnce(
        _ request: CompletionRequest, _ sink: any CompletionSink, delivered: DeliveredFlag, answerDeadline: ContinuousClock.Instant?
    ) async throws {
        let activity = Activity(answerDeadline: answerDeadline)
        let firstTokenTimeout = configuration.firstTokenTimeout, idleTimeout = configuration.idleTimeout
        let upstream = upstreamRequest(for: request)
        let reader = AnswerReader(sink: sink, delivered: delivered, activity: activity)
        // However the attempt ends, a piece still in flight on the client's thread goes nowhere:
        // a retry must not receive this attempt's tokens.
        defer { reader.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let response: IncomingResponse
                do {
                    response = try await self.client.send(upstream, sink: { try reader.feed($0) })
                } catch let error as HTTPClientError {
                    if error.kind == .cancelled { throw CancellationError() }
                    throw AttemptFailure(error: ProviderError(.unreachable, error.message), retryable: true)
                }
                guard (200..<300).contains(response.status) else { throw await self.failure(for: response) }
                do {
                    // Yields nothing: the reader takes the body. It ends at `[DONE]` or with the transfer.
                    for try await _ in response.body {}
                } catch let error as HTTPClientError {
                    if error.kind == .cancelled { throw CancellationError() }
                    throw AttemptFailure(error: ProviderError(.failed, "the upstream stream broke: \(error.message)"), retryable: !delivered.value)
                }
                if reader.sawDone { return }
                throw AttemptFailure(error: ProviderError(.failed, "the upstream stream ended before [DONE]"), retryable: !delivered.value)
            }
            group.addTask {
                // Sleeps until the earliest moment the attempt could be overdue, not on a fixed
                // tick: a thousand streams polling every 50 ms cost 20,000 wake-ups a second.
                while true {
                    switch activity.check(firstToken: firstTokenTimeout, idle: idleTimeout) {
                    case .overdue(let reason):
                        throw AttemptFailure(error: ProviderError(.timeout, reason), retryable: false)
                    case .onTime(let deadline):
                        try await CancellableSleep.until(deadline)
                    }
                }
            }
            // The reader ends the attempt (returning at [DONE] or throwing); the watchdog only throws.
            try await group.next()
            group.cancelAll()
        }
    }

    private func upstreamRequest(for request: CompletionRequest) -> OutgoingRequest {
        var headers = [("Content-Type", "application/json"), ("Accept", "text/event-stream")]
        if let key = configuration.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
        headers += configuration.extraHeaders
        return OutgoingRequest(url: configuration.baseURL + "/chat/completions", headers: headers,
                               body: Self.body(of: request), connectTimeout: configuration.connectTimeout)
    }

    /// The chat-completions request body, written directly (a `JSONEncoder` per turn cost more
    /// than the rest of building the request):
    /// `{"model","messages":[{"role","content"}],"stream":true,"stream_options":{"include_usage":true},
    /// "temperature"?,"max_tokens"?,"top_p"?,"stop"?}`.
    static func body(of request: CompletionRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + request.messages.reduce(0) { $0 + $1.content.utf8.count + 32 })
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        raw("{\"model\":")
        appendJSONQuoted(request.model, to: &out)
        raw(",\"messages\":[")
        for (index, message) in request.messages.enumerated() {
            raw(index == 0 ? "{\"role\":" : ",{\"role\":")
            appendJSONQuoted(message.role.rawValue, to: &out)
            raw(",\"content\":")
            appendJSONQuoted(message.content, to: &out)
            raw("}")
        }
        raw("],\"stream\":true,\"stream_options\":{\"include_usage\":true}")
        // Finite by validation; Swift prints a Double as its shortest round-trip form, a JSON number.
        if let temperature = request.temperature, temperature.isFinite { raw(",\"temperature\":\(temperature)") }
        if let maxTokens = request.maxTokens { raw(",\"max_tokens\":\(maxTokens)") }
        if let topP = request.topP, topP.isFinite { raw(",\"top_p\":\(topP)") }
        if let stop = request.stop {
            raw(",\"stop\":[")
            for (index, sequence) in stop.enumerated() {
                if index > 0 { raw(",") }
                appendJSONQuoted(sequence, to: &out)
            }
            raw("]")
        }
        raw("}")
        return out
    }

    /// Maps a non-2xx answer to a failure carrying the upstream's own message.
    private func failure(for response: IncomingResponse) async -> AttemptFailure {
        let body = (try? await response.collect(limit: 64 * 1024)) ?? []
        var message = Self.errorMessage(body) ?? "HTTP \(response.status)"
        if let key = configuration.apiKey, !key.isEmpty { message = message.replacingAll(key, with: "[redacted]") }
        switch response.status {
        case 429:
            let retryAfter = response.headers["retry-after"].flatMap(Int.init).map { Duration.seconds($0) }
            if let retryAfter, retryAfter > configuration.maxRetryAfter {
                return AttemptFailure(error: ProviderError(.rateLimited, message), retryable: false)
            }
            return AttemptFailure(error: ProviderError(.rateLimited, message), retryable: true, retryAfter: retryAfter)
        case 500...:
            return AttemptFailure(error: ProviderError(.failed, message), retryable: true)
        default:
            return AttemptFailure(error: ProviderError(.rejected, message), retryable: false)
        }
    }

    struct Chunk: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable {
                let content: String?
            }
            let delta: Delta?
            let finish_reason: String?
        }
        struct Usage: Decodable {
            let prompt_tokens: Int
            let completion_tokens: Int
        }
        struct ErrorBody: Decodable {
            let message: String?
        }
        let choices: [Choice]?
        let usage: Usage?
        let error: ErrorBody?
    }

    /// The completion events in one `data:` payload.
    static func decode(_ data: String) throws -> [CompletionEvent] {
        if let text = ChunkFastPath.delta(data) { return text.isEmpty ? [] : [.delta(text)] }
        return try decodeFully(data)
    }

    /// Any chunk, through `JSONDecoder`.
    static func decodeFully(_ data: String) throws -> [CompletionEvent] {
        guard let chunk = try? JSONDecoder().decode(Chunk.self, from: Data(data.utf8)) else {
            throw AttemptFailure(error: ProviderError(.failed, "the upstream sent an event that is not a completion chunk"), retryable: false)
        }
        if let error = chunk.error {
            throw AttemptFailure(error: ProviderError(.failed, error.message ?? "the upstream reported an error mid-stream"), retryable: false)
        }
        var events: [CompletionEvent] = []
        for choice in chunk.choices ?? [] {
            if let content = choice.delta?.content, !content.isEmpty { events.append(.delta(content)) }
            if let reason = choice.finish_reason { events.append(.finished(reason: reason)) }
        }
        if let usage = chunk.usage {
            events.append(.usage(TokenUsage(promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens)))
        }
        return events
    }

    static func errorMessage(_ body: [UInt8]) -> String? {
        struct Envelope: Decodable {
            struct Inner: Decodable { let message: String? }
            let error: Inner?
        }
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)), let message = envelope.error?.message { return message }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? nil : text
    }
}

/// When the stream last moved, shared by the reader and the watchdog of one attempt.
final class Activity: Sendable {
    private let state = Mutex<(start: ContinuousClock.Instant, last: ContinuousClock.Instant, gotFirstToken: Bool)>((.now, .now, false))
    /// When the whole answer must be over (`maxAnswerDuration` from the first attempt), or nil.
    private let answerDeadline: ContinuousClock.Instant?

    init(answerDeadline: ContinuousClock.Instant? = nil) {
        self.answerDeadline = answerDeadline
    }

    func touch() { state.withLock { $0.last = .now } }
    func firstToken() { state.withLock { $0.gotFirstToken = true } }

    enum Check: Equatable {
        case overdue(String)
        /// On time, and cannot become overdue before this instant.
        case onTime(until: ContinuousClock.Instant)
    }

    /// Whether the attempt is overdue: no first token within `firstToken` of the start, or,
    /// after it, nothing for `idle`; or the whole answer past its deadline.
    func check(firstToken: Duration, idle: Duration, now: ContinuousClock.Instant = .now) -> Check {
        state.withLock { s in
            let deadline = s.gotFirstToken ? s.last + idle : s.start + firstToken
            if let answerDeadline, answerDeadline <= deadline {
                if now < answerDeadline { return .onTime(until: answerDeadline) }
                return .overdue("the answer took longer than its time limit")
            }
            if now < deadline { return .onTime(until: deadline) }
            return .overdue(s.gotFirstToken ? "no token for \(idle)" : "no first token within \(firstToken)")
        }
    }
}

/// Reads one attempt's event stream on the HTTP client's thread: parses the events, decodes
/// the chunks and hands the completion events to the sink, all under one lock that `close`
/// also takes, so nothing reaches the sink once the attempt is over.
final class AnswerReader: Sendable {
    private struct State {
        var parser = EventStreamParser()
        var closed = false
        var sawDone = false
        var sawDelta = false
    }

    private let state = Mutex(State())
    private let sink: any CompletionSink
    private let delivered: DeliveredFlag
    private let activity: Activity

    init(sink: any CompletionSink, delivered: DeliveredFlag, activity: Activity) {
        self.sink = sink
        self.delivered = delivered
        self.activity = activity
    }

    var sawDone: Bool { state.withLock { $0.sawDone } }

    func close() { state.withLock { $0.closed = true } }

    /// One piece of the body; `.enough` at `[DONE]`. Throws the attempt's failure for a body
    /// that is not a stream of completion chunks.
    func feed(_ bytes: UnsafeRawBufferPointer) throws -> BodySinkReply {
        activity.touch()
        return try state.withLock { state in
            guard !state.closed else { return .enough }
            let events: [StreamEvent]
            do {
                events = try state.parser.feed(Array(bytes))
            } catch {
                throw OpenAICompatibleProvider.AttemptFailure(error: ProviderError(.failed, "the upstream sent an over-long line"), retryable: false)
            }
            for event in events {
                if event.data == "[DONE]" {
                    state.sawDone = true
                    return .enough
                }
                for completion in try OpenAICompatibleProvider.decode(event.data) {
                    if case .delta = completion, !state.sawDelta {
                        state.sawDelta = true
                        delivered.set()
                        activity.firstToken()
                    }
                    sink.receive(completion)
                }
            }
            return .more
        }
    }
}

/// Hands the events to a stream's continuation, for `complete(_:)`.
struct StreamSink: CompletionSink {
    let continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation

    func receive(_ event: CompletionEvent) { continuation.yield(event) }
}

final class DeliveredFlag: Sendable {
    private let flag = Mutex(false)
    var value: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
