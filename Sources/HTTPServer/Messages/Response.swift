import JSONText

/// A response: status, header fields and a body that is either complete or streamed.
///
/// The server owns message framing: `Content-Length`, `Transfer-Encoding` and `Connection`
/// set by a handler are replaced by the values the server computes.
public struct Response: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPFields
    public var body: ResponseBody
    /// Called once, on the connection's queue, when the response has been written in full or
    /// abandoned because the connection closed: where a streamed response's real duration and
    /// size can be logged and measured (the head leaves long before its end). Add to it with
    /// `onFinish(_:)`, which keeps what was there.
    public private(set) var finish: (@Sendable (ResponseFinish) -> Void)?

    public init(status: HTTPStatus = .ok, headers: HTTPFields = HTTPFields(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Adds `action` to what runs when the response is finished (after any added before).
    public mutating func onFinish(_ action: @escaping @Sendable (ResponseFinish) -> Void) {
        if let earlier = finish {
            finish = { done in
                earlier(done)
                action(done)
            }
        } else {
            finish = action
        }
    }

    /// A complete body with its content type.
    public init(status: HTTPStatus = .ok, contentType: String, body: [UInt8]) {
        self.init(status: status, headers: HTTPFields([("Content-Type", contentType)]), body: .bytes(body))
    }

    /// An RFC 9457 problem document for errors the HTTP layer itself detects.
    public static func problem(_ status: HTTPStatus, detail: String, extraHeaders: HTTPFields = HTTPFields()) -> Response {
        var json = "{\"type\":\"about:blank\",\"title\":"
        json += jsonQuoted(status.reason)
        json += ",\"status\":\(status.code),\"detail\":"
        json += jsonQuoted(detail)
        json += "}"
        var response = Response(status: status, contentType: "application/problem+json", body: Array(json.utf8))
        for field in extraHeaders { response.headers.add(field.name, field.value) }
        return response
    }
}

/// How a response ended, for `Response.onFinish`.
public struct ResponseFinish: Sendable {
    /// Body bytes handed to the connection (before any chunk framing).
    public let bodyBytes: Int
    /// False when the connection closed before the whole response was written.
    public let completed: Bool

    public init(bodyBytes: Int, completed: Bool) {
        self.bodyBytes = bodyBytes
        self.completed = completed
    }
}

/// The body of a response.
public enum ResponseBody: Sendable {
    /// A body known in full; sent with `Content-Length`.
    case bytes([UInt8])
    /// A body produced over time through a writer; sent chunked. The closure's return ends
    /// the body; a throw aborts the connection, since a half-sent body cannot be taken back.
    case stream(@Sendable (ResponseBodyWriter) async throws -> Void)

    public static var empty: ResponseBody { .bytes([]) }
}

/// Writes pieces of a streamed body. `write` suspends while the client is slower than the
/// producer (the connection's outbound buffer is over its high-water mark), so memory
/// stays bounded; it throws once the client has gone.
public struct ResponseBodyWriter: Sendable {
    private let sink: @Sendable ([UInt8]) async throws -> Void

    /// A writer that hands each piece to `sink`; the server passes its connection, tests a collector.
    public init(_ sink: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.sink = sink
    }

    /// Sends `bytes` (nothing if empty: an empty chunk would end a chunked body).
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await sink(bytes)
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }
}

/// The client closed the connection, or the server is closing it, while a body was written.
public struct ConnectionClosedError: Error, Sendable, Equatable {
    public init() {}
}
