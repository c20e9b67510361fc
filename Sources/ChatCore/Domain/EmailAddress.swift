/// An e-mail address as accounts use it: trimmed, lower-cased, checked for a plausible shape.
/// Uniqueness is decided on this normalised form, so `Ann@X.org` and `ann@x.org` are one account.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Validates and normalises; throws a validation error naming the field.
    public init(_ raw: String, field: String = "email") throws(DomainError) {
        let trimmed = raw.trimmingWhiteSpace()
        let lowered = trimmed.lowercased()
        guard !lowered.isEmpty else { throw .validation([FieldError(field, "is required")]) }
        guard lowered.utf8.count <= 254 else { throw .validation([FieldError(field, "must be at most 254 bytes")]) }
        let parts = lowered.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64,
              parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !lowered.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
        else {
            throw .validation([FieldError(field, "is not a valid e-mail address")])
        }
        value = lowered
    }

    /// An address already normalised (read back from storage).
    public init(trusted value: String) {
        self.value = value
    }

    public var description: String { value }
}

extension String {
    /// Without leading and trailing white space: every Unicode white space (form feed, no-break
    /// space, line separators…) and the byte-order mark, as JSON Schema's `\s` counts them, so
    /// "not only white space" means the same to the server and to its contract.
    func trimmingWhiteSpace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace || f == "\u{FEFF}" { s.removeFirst() }
        while let l = s.last, l.isWhitespace || l == "\u{FEFF}" { s.removeLast() }
        return String(s)
    }
}
