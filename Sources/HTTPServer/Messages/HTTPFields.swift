/// An ordered list of header fields with case-insensitive lookup by name (RFC 9110 §5.1).
///
/// Order and duplicates are kept as received, because some fields (`Set-Cookie`) may
/// repeat and because framing checks must see every `Content-Length`.
public struct HTTPFields: Sendable, Hashable, Sequence {
    public struct Field: Sendable, Hashable {
        public let name: String
        public let value: String
    }

    private var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// The first value of the named field, or nil.
    public subscript(name: String) -> String? {
        fields.first { Self.namesMatch($0.name, name) }?.value
    }

    /// Every value of the named field, in order.
    public func values(_ name: String) -> [String] {
        fields.lazy.filter { Self.namesMatch($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field, keeping any existing ones of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field of that name with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append(Field(name: name, value: value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { Self.namesMatch($0.name, name) }
    }

    /// Whether a comma-separated field contains `token`, compared case-insensitively
    /// (for `Connection: keep-alive, Upgrade` and the like).
    public func containsToken(_ token: String, in name: String) -> Bool {
        for value in values(name) {
            for element in value.split(separator: ",") {
                if Self.namesMatch(element.trimmingOWS(), token) { return true }
            }
        }
        return false
    }

    static func namesMatch<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        // Every lookup compares names: over the bytes in place where the strings have them
        // (native strings do), not through two iterators.
        let inPlace = x.withContiguousStorageIfAvailable { x in
            y.withContiguousStorageIfAvailable { y in
                for i in x.indices where x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
                return true
            }
        }
        if let inPlace = inPlace ?? nil { return inPlace }
        return zip(x, y).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs (RFC 9110 §5.6.3 OWS).
    public func trimmingOWS() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
