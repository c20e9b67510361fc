/// How the body of a request is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Hashable {
    case none
    case length(Int)
    case chunked
}

/// A parsed request head, validated for framing and version semantics.
public struct RequestHead: Sendable {
    public let method: HTTPMethod
    public let target: String
    public let version: HTTPVersion
    public let headers: HTTPFields
    public let framing: BodyFraming
    /// Whether the client allows the connection to stay open after the response.
    public let keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1).
    public let expectsContinue: Bool
}
