public import FoundationEssentials

/// New identifiers.
public protocol IDGenerator: Sendable {
    func newUUID() -> UUID
}

public struct RandomIDGenerator: IDGenerator {
    public init() {}
    public func newUUID() -> UUID { UUID() }
}
