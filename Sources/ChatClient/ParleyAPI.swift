import FoundationEssentials
public import HTTPClient

/// What went wrong talking to a parley server, in words that say how to fix it.
public enum ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreachable(url: String, reason: String)
    /// The credentials were refused even after a refresh: sign in again.
    case signedOut
    case rateLimited(tier: String, retryAfter: Int, detail: String)
    case refused(status: Int, code: String, detail: String)
    case invalidAnswer(String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason): "cannot reach the parley server at \(url) (\(reason)); is it running? Set --url or PARLEY_URL."
        case .signedOut: "your sign-in has expired or was revoked; run `parley chat` to sign in again."
        case .rateLimited(let tier, let retryAfter, let detail): "limit reached (\(tier)): \(detail); try again in \(retryAfter) s."
        case .refused(let status, _, let detail): "the server refused (\(status)): \(detail)"
        case .invalidAnswer(let what): "the server's answer could not be read: \(what)"
        }
    }
}

public struct Problem: Decodable, Sendable {
    public let code: String?
    public let detail: String?
    public let tier: String?
}

public struct AuthAnswer: Decodable, Sendable {
    public struct User: Decodable, Sendable {
        public let email: String?
        public let role: String
    }
    public let accessToken: String
    public let refreshToken: String
    public let user: User
}

public struct SessionItem: Decodable, Sendable, Equatable {
    public let id: String
    public let title: String
    public let model: String
}

public struct MessageItem: Decodable, Sendable, Equatable {
    public struct Usage: Decodable, Sendable, Equatable {
        public let promptTokens: Int
        public let completionTokens: Int
    }
    public let id: String
    public let parentId: String?
    public let role: String
    public let content: String
    public let status: String
    public let usage: Usage?
    /// On the active path: how many versions of it there are, and which one it is.
    public let siblings: Int?
    public let siblingIndex: Int?
}

/// A message that matched `GET /v1/search`.
public struct SearchHitItem: Decodable, Sendable, Equatable {
    public let sessionId: String
    public let sessionTitle: String
    public let role: String
    public let snippet: String
}

public struct Page<Item: Decodable & Sendable>: Decodable, Sendable {
    public let items: [Item]
}

public struct UsageAnswer: Decodable, Sendable {
    public struct Tier: Decodable, Sendable {
        public let tier: String
        public let limit: Int
        public let used: Int
        public let remaining: Int
        public let resetAt: String
    }
    public let role: String
    public let tiers: [Tier]
    public let maxMessageLength: Int?
}

/// One event of a streamed answer.
public enum AnswerEvent: Sendable, Equatable {
    case started(userMessageID: String, answerID: String)
    case delta(String)
    case done(MessageItem, cached: Bool)
    case failed(code: String, message: String)
    /// The connection dropped mid-answer and a new one picked the answer up at the byte where
    /// the old one stopped (nothing repeated, nothing lost).
    case resumed(atByte: Int)
}

/// A client of parley's REST + SSE API over libcurl. Requests carry the stored access token;
/// a 401 triggers one silent refresh (rotating the stored tokens) and a retry.
public final class ParleyAPI: Sendable {
    public let baseURL: String
    let http: CurlHTTPClient
    let store: CredentialStore
    /// A personal API key (`--api-key`, `PARLEY_API_KEY`): used instead of stored tokens, and
    /// never refreshed or stored.
    public let apiKey: String?

    public init(baseURL: String, store: CredentialStore, http: CurlHTTPClient? = nil, apiKey: String? = nil) throws {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.store = store
        self.http = try http ?? CurlHTTPClient()
        self.apiKey = apiKey
    }

    public var credentials: Credentials? {
        if let apiKey { return Credentials(accessToken: apiKey, refreshToken: "", email: nil) }
        return store.load(for: baseURL)
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    // MARK: - Accounts

    public func logIn(email: String, password: String) async throws -> AuthAnswer {
        try await signIn(try await call("POST", "/v1/auth/login", json: ["email": email, "password": password], authenticated: false))
    }

    public func register(email: String, password: String) async throws -> AuthAnswer {
        try await signIn(try await call("POST", "/v1/auth/register", json: ["email": email, "password": password], authenticated: false))
    }

    public func guest() async throws -> AuthAnswer {
        try await signIn(try await call("POST", "/v1/auth/guest", authenticated: false))
    }

    private func signIn(_ body: [UInt8]) async throws -> AuthAnswer {
        let answer = try decode(AuthAnswer.self, body)
        try store.save(Credentials(accessToken: answer.accessToken, refreshToken: answer.refreshToken, email: answer.user.email), for: baseURL)
        return answer
    }

    public func signOut() throws {
        try store.save(nil, for: baseURL)
    }

    /// Ends this sign-in on the server (its refresh token family) and forgets the stored
    /// tokens; they are forgotten even when the server cannot be told.
    public func logOut() async throws {
        defer { try? signOut() }
        guard apiKey == nil, let stored = credentials else { return }
        _ = try await call("POST", "/v1/auth/logout", json: ["refresh_token": stored.refreshToken])
    }

    // MARK: - Chat

    public func sessions() async throws -> [SessionItem] {
        try decode(Page<SessionItem>.self, try await call("GET", "/v1/sessions?limit=100")).items
    }

    public func newSession(title: String?, model: String?) async throws -> SessionItem {
        var body: [String: String] = [:]
        if let title { body["title"] = title }
        if let model { body["model"] = model }
        return try decode(SessionItem.self, try await call("POST", "/v1/sessions", json: body))
    }

    /// The caller's messages holding every word of `query`, best first.
    public func search(_ query: String, limit: Int = 10) async throws -> [SearchHitItem] {
        try decode(Page<SearchHitItem>.self, try await call("GET", "/v1/search?limit=\(limit)&q=\(Self.queryEncoded(query))")).items
    }

    /// `text` as a query-string value: unreserved characters as they are, every other byte
    /// percent-encoded.
    static func queryEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    public func rename(session: String, to title: String) async throws -> SessionItem {
        try decode(SessionItem.self, try await call("PATCH", "/v1/sessions/\(session)", json: ["title": title]))
    }

    public func deleteSession(_ session: String) async throws {
        _ = try await call("DELETE", "/v1/sessions/\(session)")
    }

    public func setModel(_ model: String, session: String) async throws -> SessionItem {
        try decode(SessionItem.self, try await call("PATCH", "/v1/sessions/\(session)", json: ["model": model]))
    }

    public func history(session: String) async throws -> [MessageItem] {
        try decode(Page<MessageItem>.self, try await call("GET", "/v1/sessions/\(session)/messages?limit=200")).items.reversed()
    }

    public func models() async throws -> [String] {
        try decode(Page<ModelItem>.self, try await call("GET", "/v1/models")).items.map(\.id)
    }

    public struct ModelItem: Decodable, Sendable { public let id: String }

    public func usage() async throws -> UsageAnswer {
        try decode(UsageAnswer.self, try await call("GET", "/v1/usage"))
    }

    public func export(session: String, format: String) async throws -> [UInt8] {
        try await call("GET", "/v1/sessions/\(session)/export?format=\(format)")
    }

    public func stop(session: String) async throws {
        _ = try? await call("POST", "/v1/sessions/\(session)/stop")
    }

    /// Sends a message and streams the answer's events as they arrive. `parent`: nil, after
    /// the session's active leaf; `.some(id)`, after that answer; `.some(nil)`, as a new first
    /// message (an edit sends after the parent of the message it replaces).
    public func send(_ content: String, session: String, after parent: String?? = nil) async throws -> AsyncThrowingStream<AnswerEvent, any Error> {
        var body: [String: String?] = ["content": content]
        if let parent { body.updateValue(parent, forKey: "parent_id") }
        return try await stream("POST", "/v1/sessions/\(session)/messages", json: body, session: session)
    }

    /// Asks for another answer to the question `answer` answered, streamed like a send.
    public func regenerate(answer: String, session: String) async throws -> AsyncThrowingStream<AnswerEvent, any Error> {
        try await stream("POST", "/v1/sessions/\(session)/messages/\(answer)/regenerate", json: [:], session: session)
    }

    /// How often a dropped answer is picked up again before the client gives up, and the
    /// longest pause between tries (a restarting instance behind a balancer takes seconds).
    static let resumeAttempts = 10
    static let longestResumePause = Duration.seconds(2)

    /// The answer's events; when the connection drops before the answer's end, the answer is
    /// followed again from the last byte received (`Last-Event-ID`), as often as
    /// `resumeAttempts`, and a `resumed` event says so. The answer runs on the server
    /// whatever happens to the connection, so nothing is sent twice.
    private func stream(_ method: String, _ path: String, json: [String: String?], session: String) async throws -> AsyncThrowingStream<AnswerEvent, any Error> {
        let first = try await open(method, path, json: json, accept: "text/event-stream")
        return AsyncThrowingStream { continuation in
            let reader = Task {
                var response: IncomingResponse? = first
                var answerID: String?
                var lastEventID: String?
                var failures = 0
                var lastProblem = "the stream ended before the answer did"
                while !Task.isCancelled {
                    if let current = response {
                        var parser = EventStreamParser()
                        do {
                            for try await piece in current.body {
                                for event in try parser.feed(piece) {
                                    if let id = event.id { lastEventID = id }
                                    guard let answer = try Self.answerEvent(event) else { continue }
                                    switch answer {
                                    case .started(_, let id): answerID = id
                                    case .done, .failed:
                                        continuation.yield(answer)
                                        continuation.finish()
                                        return
                                    case .delta, .resumed: failures = 0
                                    }
                                    continuation.yield(answer)
                                }
                            }
                        } catch let error as DecodingError {
                            continuation.finish(throwing: ClientError.invalidAnswer("an event could not be read: \(error)"))
                            return
                        } catch {
                            lastProblem = "\(error)"
                        }
                    }
                    // The connection ended before the answer did: follow the answer again.
                    guard let answerID, failures < Self.resumeAttempts, !Task.isCancelled else { break }
                    failures += 1
                    try? await Task.sleep(for: min(.milliseconds(250 * failures), Self.longestResumePause))
                    do {
                        response = try await open("GET", "/v1/sessions/\(session)/messages/\(answerID)/events", accept: "text/event-stream",
                                                  headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
                        continuation.yield(.resumed(atByte: lastEventID.flatMap(Int.init) ?? 0))
                    } catch let error as ClientError {
                        if case .unreachable = error { response = nil; lastProblem = "\(error)"; continue }
                        continuation.finish(throwing: error)
                        return
                    } catch {
                        response = nil
                        lastProblem = "\(error)"
                    }
                }
                continuation.finish(throwing: ClientError.invalidAnswer("the stream broke: \(lastProblem)"))
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }

    static func answerEvent(_ event: StreamEvent) throws -> AnswerEvent? {
        let data = Array(event.data.utf8)
        switch event.event {
        case "start":
            struct Start: Decodable {
                struct User: Decodable { let id: String }
                let userMessage: User
                let assistantMessageId: String
            }
            let start = try decoder.decode(Start.self, from: Data(data))
            return .started(userMessageID: start.userMessage.id, answerID: start.assistantMessageId)
        case "token":
            struct Token: Decodable { let delta: String }
            return .delta(try decoder.decode(Token.self, from: Data(data)).delta)
        case "done":
            struct Done: Decodable {
                let message: MessageItem
                let cached: Bool?
            }
            let done = try decoder.decode(Done.self, from: Data(data))
            return .done(done.message, cached: done.cached ?? false)
        case "error":
            struct Failure: Decodable {
                let code: String
                let message: String
            }
            let failure = try decoder.decode(Failure.self, from: Data(data))
            return .failed(code: failure.code, message: failure.message)
        default:
            return nil
        }
    }

    // MARK: - HTTP

    /// A request whose whole answer is read; errors become `ClientError`s.
    func call(_ method: String, _ path: String, json: [String: String?]? = nil, authenticated: Bool = true) async throws -> [UInt8] {
        let response = try await open(method, path, json: json, authenticated: authenticated)
        return try await response.collect(limit: 16 << 20)
    }

    /// Sends a request, refreshing the tokens once on a 401; throws for any status ≥ 400.
    func open(_ method: String, _ path: String, json: [String: String?]? = nil, accept: String = "application/json",
              headers: [(String, String)] = [], authenticated: Bool = true) async throws -> IncomingResponse {
        var response = try await send(method, path, json: json, accept: accept, headers: headers, token: authenticated ? credentials?.accessToken : nil)
        if response.status == 401, authenticated {
            _ = try? await response.collect()
            if apiKey != nil {
                throw ClientError.refused(status: 401, code: "invalid_api_key", detail: "the API key was refused: it may be revoked, expired or mistyped")
            }
            guard try await refresh() else { throw ClientError.signedOut }
            response = try await send(method, path, json: json, accept: accept, headers: headers, token: credentials?.accessToken)
            if response.status == 401 { throw ClientError.signedOut }
        }
        guard response.status < 400 else {
            let problem = (try? await response.collect(limit: 1 << 20)).flatMap { try? Self.decoder.decode(Problem.self, from: Data($0)) }
            if response.status == 429 {
                throw ClientError.rateLimited(tier: problem?.tier ?? "unknown", retryAfter: response.headers["retry-after"].flatMap(Int.init) ?? 1,
                                              detail: problem?.detail ?? "too many requests")
            }
            throw ClientError.refused(status: response.status, code: problem?.code ?? "", detail: problem?.detail ?? "HTTP \(response.status)")
        }
        return response
    }

    /// Trades the refresh token for new tokens; false when there is none or it was refused.
    func refresh() async throws -> Bool {
        guard apiKey == nil, let stored = credentials else { return false }
        let response = try await send("POST", "/v1/auth/refresh", json: ["refresh_token": stored.refreshToken], accept: "application/json", token: nil)
        let body = try await response.collect()
        guard response.status == 200, let answer = try? decode(AuthAnswer.self, body) else { return false }
        try store.save(Credentials(accessToken: answer.accessToken, refreshToken: answer.refreshToken, email: stored.email), for: baseURL)
        return true
    }

    private func send(_ method: String, _ path: String, json: [String: String?]?, accept: String, headers extra: [(String, String)] = [],
                      token: String?) async throws -> IncomingResponse {
        var headers = [("Accept", accept)] + extra
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        var body: [UInt8] = []
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = Array(try JSONEncoder().encode(json))
        }
        do {
            return try await http.send(OutgoingRequest(url: baseURL + path, method: method, headers: headers, body: body, connectTimeout: .seconds(5)))
        } catch let error as HTTPClientError {
            throw ClientError.unreachable(url: baseURL, reason: error.message)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        do {
            return try Self.decoder.decode(T.self, from: Data(body))
        } catch {
            throw ClientError.invalidAnswer("\(T.self)")
        }
    }
}
