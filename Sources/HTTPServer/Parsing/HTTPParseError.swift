/// Why a request could not be parsed, with the status to answer and a detail safe to show.
///
/// Every parse error ends the connection: once framing is in doubt, the next byte
/// cannot be trusted to start a request (RFC 9112 §9.6, request smuggling).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: HTTPStatus
    public let detail: String

    public init(_ status: HTTPStatus, _ detail: String) {
        self.status = status
        self.detail = detail
    }

    public var description: String { "\(status.code): \(detail)" }

    static func bad(_ detail: String) -> HTTPParseError { HTTPParseError(.badRequest, detail) }
}
