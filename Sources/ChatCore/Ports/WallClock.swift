public import FoundationEssentials

/// The current date and time (named apart from Swift's `Clock`, which measures durations);
/// tests use a clock they move by hand.
public protocol WallClock: Sendable {
    func now() -> Date
}

public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
