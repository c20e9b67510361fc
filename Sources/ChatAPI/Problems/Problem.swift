import FoundationEssentials
public import HTTPServer

/// An RFC 9457 problem document with parley's stable `code` and, for 422, the field errors.
public struct Problem: Error, HTTPResponseError, Sendable {
    public let status: HTTPStatus
    public let code: String
    public let detail: String
    public var errors: [(field: String, message: String)] = []
    /// Extension members (RFC 9457 §3.2), such as the `tier` of a 429.
    public var members: [String: String] = [:]
    public var headers = HTTPFields()

    public init(_ status: HTTPStatus, code: String, detail: String) {
        self.status = status
        self.code = code
        self.detail = detail
    }

    private struct Body: Encodable {
        struct FieldError: Encodable {
            let field: String
            let message: String
        }
        struct Key: CodingKey {
            let stringValue: String
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
        let type: String
        let title: String
        let status: Int
        let detail: String
        let code: String
        let errors: [FieldError]?
        let members: [String: String]

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            for (name, value) in members { try c.encode(value, forKey: Key(name)) }
            try c.encode(type, forKey: Key("type"))
            try c.encode(title, forKey: Key("title"))
            try c.encode(status, forKey: Key("status"))
            try c.encode(detail, forKey: Key("detail"))
            try c.encode(code, forKey: Key("code"))
            try c.encodeIfPresent(errors, forKey: Key("errors"))
        }
    }

    public var response: Response {
        let body = Body(
            type: "urn:parley:problem:\(String(code.map { $0 == "_" ? "-" : $0 }))", title: status.reason,
            status: status.code, detail: detail, code: code,
            errors: errors.isEmpty ? nil : errors.map { Body.FieldError(field: $0.field, message: $0.message) }, members: members
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(body)).map { Array($0) } ?? Array("{}".utf8)
        var response = Response(status: status, contentType: "application/problem+json", body: bytes)
        for field in headers { response.headers.add(field.name, field.value) }
        return response
    }
}
