/// An HTTP request to an upstream, with the limits that apply to it.
public struct OutgoingRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Time to establish the connection (TCP and TLS).
    public var connectTimeout: Duration

    public init(url: String, method: String = "POST", headers: [(String, String)] = [], body: [UInt8] = [],
                connectTimeout: Duration = .seconds(10)) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
    }
}

/// Takes a successful (2xx) response's body where it arrives, on the client's driver thread,
/// piece by piece (a network read each, valid only during the call): a streamed answer is
/// decoded there instead of crossing to a task per piece. It must not block. A thrown error
/// aborts the transfer and ends `IncomingResponse.body` with that error.
public typealias ResponseBodySink = @Sendable (UnsafeRawBufferPointer) throws -> BodySinkReply

/// What a body sink says after a piece.
public enum BodySinkReply: Sendable {
    /// Send the next piece.
    case more
    /// The caller has what it needs (an event stream's `[DONE]`): `body` ends now and the rest
    /// is dropped. The transfer is left to end on its own, so its connection can be reused,
    /// and is closed if it has not within a few seconds.
    case enough
}

/// The head of an upstream response and its body as it arrives. The pieces of `body` have
/// no meaning of their own (a network read each); cancelling the task that iterates it, or
/// dropping it, stops the transfer. When a body sink took a successful response's body,
/// `body` yields nothing and only ends (or throws) when the transfer does.
public struct IncomingResponse: Sendable {
    public let status: Int
    /// Header names lower-cased; a repeated header keeps its last value.
    public let headers: [String: String]
    public let body: AsyncThrowingStream<[UInt8], any Error>

    /// Collects the whole body, refusing more than `limit` bytes.
    public func collect(limit: Int = 1 << 20) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await piece in body {
            bytes += piece
            if bytes.count > limit { throw HTTPClientError(.tooLarge, "the upstream response is larger than \(limit) bytes") }
        }
        return bytes
    }
}

/// Why a transfer failed, with libcurl's message (never the request's headers or body).
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The upstream could not be reached: DNS, refused, TLS handshake.
        case connect
        case timeout
        /// The connection broke while the response was arriving.
        case transfer
        case tooLarge
        case cancelled
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "upstream \(kind): \(message)" }
}
