public import ChatCore
public import RedisClient

/// A Redis that cannot be reached is a dependency failure: wherever one reaches the API, it is
/// a 503 with `Retry-After`, not a 500.
extension RedisError: DependencyFailure {
    public var isTransient: Bool { kind == .unavailable }
}
