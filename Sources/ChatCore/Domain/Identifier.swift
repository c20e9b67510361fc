public import FoundationEssentials

/// A typed identifier: `Identifier<User>` and `Identifier<Project>` are different types, so
/// one can never be passed where the other is meant. Stored and sent as a UUID string.
public struct Identifier<Entity>: Hashable, Sendable, CustomStringConvertible {
    public let uuid: UUID

    public init(_ uuid: UUID) {
        self.uuid = uuid
    }

    /// Parses a UUID string; nil when it is not one.
    public init?(_ text: String) {
        guard let uuid = UUID.parse(text) else { return nil }
        self.uuid = uuid
    }

    /// Lower-case canonical form, the same in every database and on the wire.
    public var description: String { uuid.lowercasedText }
}
