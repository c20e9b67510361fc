import HTTPServer
import Logging

extension Request {
    /// The `{name}` path parameter parsed as an identifier; a malformed one is the same
    /// "not found" as an unknown one.
    func identifier<Entity>(_ name: String, of what: String) throws -> ChatCoreIdentifier<Entity> {
        guard let text = parameters[name], let id = ChatCoreIdentifier<Entity>(text) else {
            throw Problem(.notFound, code: "not_found", detail: "\(what) not found")
        }
        return id
    }

    /// The `cursor` of a paged list; an empty one is the first page, like none.
    var cursor: String? {
        guard let cursor = queryItems["cursor"], !cursor.isEmpty else { return nil }
        return cursor
    }

    /// An integer query parameter within `range`, or `fallback` when absent.
    func queryInteger(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = queryItems[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw JSONBody.validation(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

import ChatCore
typealias ChatCoreIdentifier = ChatCore.Identifier
