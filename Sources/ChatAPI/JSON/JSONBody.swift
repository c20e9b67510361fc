import ChatCore
import FoundationEssentials
public import HTTPServer

/// Reading JSON request bodies and writing JSON responses, with parley's conventions:
/// snake_case keys, RFC 3339 UTC timestamps, and precise errors for bad input.
public enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }()

    /// A JSON response; an encoding failure is a programming error and becomes a 500 problem.
    public static func response<T: Encodable>(_ value: T, status: HTTPStatus = .ok) -> Response {
        guard let data = try? encoder.encode(value) else {
            return Problem(.internalServerError, code: "internal_error", detail: "the response could not be encoded").response
        }
        return Response(status: status, contentType: "application/json", body: Array(data))
    }

    /// `value` as JSON bytes, as `response` writes it.
    static func encoded<T: Encodable>(_ value: T) -> [UInt8] {
        (try? encoder.encode(value)).map(Array.init) ?? []
    }

    /// Decodes the body as `T`: 415 if it is not JSON, 400 if it does not parse, 422 naming
    /// the field that is missing or of the wrong type.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request) throws -> T {
        let mediaType = request.headers["Content-Type"]?.split(separator: ";").first.map { String($0).lowercased() }
        guard mediaType?.filter({ $0 != " " && $0 != "\t" }) == "application/json" else {
            throw Problem(.unsupportedMediaType, code: "unsupported_media_type", detail: "the body must be application/json")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let value: T
        do {
            value = try decoder.decode(T.self, from: Data(request.body))
        } catch let DecodingError.keyNotFound(key, context) {
            throw validation(path(context.codingPath + [key]), "is required")
        } catch let DecodingError.valueNotFound(_, context) {
            throw validation(path(context.codingPath), "must not be null")
        } catch let DecodingError.typeMismatch(expected, context) {
            throw validation(path(context.codingPath), "must be \(describe(expected))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw validation(path(context.codingPath), "is not valid")
        } catch let problem as Problem {
            // A body's own decoding refused something, and said what.
            throw problem
        } catch {
            throw Problem(.badRequest, code: "malformed_json", detail: "the body is not a valid JSON object")
        }
        // Neither database keeps a NUL in text (SQLite's C strings and PostgreSQL's text end
        // there), so a value with one would be cut short silently: refuse it. Only the fields
        // the request uses count; members it ignores may hold anything.
        if containsEscapedNUL(request.body), let field = pathToNUL(in: value) {
            throw validation(field, "must not contain the NUL character (\\u0000)")
        }
        return value
    }

    /// The snake_case path (`messages[2].content`) of the first string holding a NUL in a
    /// decoded body, found by reflection (only on the rare body that has one).
    static func pathToNUL(in value: Any, path: String = "") -> String? {
        if let text = value as? String { return text.utf8.contains(0) ? (path.isEmpty ? "body" : path) : nil }
        let mirror = Mirror(reflecting: value)
        for (index, child) in mirror.children.enumerated() {
            let childPath: String
            switch mirror.displayStyle {
            case .optional: childPath = path
            case .collection, .set: childPath = "\(path)[\(index)]"
            default:
                let name = snakeCase(child.label ?? "\(index)")
                childPath = path.isEmpty ? name : "\(path).\(name)"
            }
            if let found = pathToNUL(in: child.value, path: childPath) { return found }
        }
        return nil
    }

    /// Whether the JSON text has a `\u0000` escape (the only way a JSON string holds a NUL:
    /// raw control bytes are not valid JSON). Escapes are skipped whole, so `\\u0000`, a
    /// backslash followed by the text `u0000`, is not one.
    static func containsEscapedNUL(_ bytes: [UInt8]) -> Bool {
        var i = 0
        let zero = UInt8(ascii: "0")
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") {
                if i + 5 < bytes.count, bytes[i + 1] == UInt8(ascii: "u"),
                   bytes[i + 2] == zero, bytes[i + 3] == zero, bytes[i + 4] == zero, bytes[i + 5] == zero {
                    return true
                }
                i += 2
            } else {
                i += 1
            }
        }
        return false
    }

    static func validation(_ field: String, _ message: String) -> Problem {
        var p = Problem(.unprocessableContent, code: "validation_failed", detail: "\(field) \(message)")
        p.errors = [(field, message)]
        return p
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? snakeCase($0.stringValue) }.joined(separator: ".")
    }

    static func snakeCase(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "of another type"
        }
    }
}
