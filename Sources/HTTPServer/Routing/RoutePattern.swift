/// A path pattern such as `/v1/sessions/{id}/messages`: literal segments and `{name}` captures.
struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    let segments: [Segment]
    let description: String

    init(_ pattern: String) {
        precondition(pattern.hasPrefix("/"), "route patterns start with /: \(pattern)")
        description = pattern
        segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part in
            if part.hasPrefix("{"), part.hasSuffix("}"), part.count > 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
    }

    /// How many literal segments the pattern has; more literals means more specific.
    var specificity: Int {
        segments.reduce(0) { count, segment in
            if case .literal = segment { return count + 1 }
            return count
        }
    }

    enum Match {
        case no
        case yes(PathParameters)
        /// The path fits but a parameter is not valid percent-encoding.
        case badEncoding(String)
    }

    func match(_ pathSegments: [Substring]) -> Match {
        guard pathSegments.count == segments.count else { return .no }
        // The literals decide whether the pattern fits; only then are parameters decoded.
        for (segment, part) in zip(segments, pathSegments) {
            switch segment {
            case .literal(let text):
                guard part.utf8.elementsEqual(text.utf8) else { return .no }
            case .parameter:
                guard !part.isEmpty else { return .no }
            }
        }
        var parameters = PathParameters()
        for (segment, part) in zip(segments, pathSegments) {
            if case .parameter(let name) = segment {
                guard let value = percentDecode(part) else { return .badEncoding(name) }
                parameters[name] = value
            }
        }
        return .yes(parameters)
    }
}
