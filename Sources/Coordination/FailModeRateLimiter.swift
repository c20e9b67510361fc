public import ChatCore
public import FoundationEssentials
public import Logging
import Synchronization

/// What to do when the shared limiter cannot be asked (`RATE_LIMIT_FAIL_MODE`): let requests
/// through unlimited (`open`, the default: an outage of Redis is not an outage of chat), or
/// refuse them with 503 (`closed`). Either way it is logged once per outage and counted.
public final class FailModeRateLimiter: RateLimiter {
    public enum Mode: String, Sendable {
        case open, closed
    }

    private let inner: any RateLimiter
    private let mode: Mode
    private let logger: Logger
    private let failing = Atomic<Bool>(false)
    private let failures = Atomic<Int>(0)

    public init(_ inner: any RateLimiter, mode: Mode, logger: Logger) {
        self.inner = inner
        self.mode = mode
        self.logger = logger
    }

    /// Decisions taken without the limiter since start.
    public var failureCount: Int { failures.load(ordering: .relaxed) }

    private func guarded<T: Sendable>(_ fallback: T, _ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            if failing.exchange(false, ordering: .relaxed) { logger.notice("rate limiter reachable again; limits enforced") }
            return value
        } catch let error as DomainError {
            throw error
        } catch {
            failures.add(1, ordering: .relaxed)
            if !failing.exchange(true, ordering: .relaxed) {
                logger.error("rate limiter unavailable", metadata: ["parley.error": "\(error)", "parley.fail_mode": "\(mode.rawValue)"])
            }
            if mode == .closed { throw DomainError.unavailable("rate limiting is unavailable; retry shortly") }
            return fallback
        }
    }

    public func admitMessage(userID: User.ID, limits: RateLimits, now: Date) async throws -> RateDecision {
        try await guarded(.allowed([])) { try await inner.admitMessage(userID: userID, limits: limits, now: now) }
    }

    public func chargeTokens(userID: User.ID, tokens: Int, now: Date) async throws {
        try await guarded(()) { try await inner.chargeTokens(userID: userID, tokens: tokens, now: now) }
    }

    public func acquireStream(userID: User.ID, lease: String, limit: Int?, serverLimit: Int?, now: Date, ttl: Duration) async throws -> RateDecision {
        try await guarded(.allowed([])) { try await inner.acquireStream(userID: userID, lease: lease, limit: limit, serverLimit: serverLimit, now: now, ttl: ttl) }
    }

    public func renewStream(userID: User.ID, lease: String, now: Date, ttl: Duration) async throws {
        try await guarded(()) { try await inner.renewStream(userID: userID, lease: lease, now: now, ttl: ttl) }
    }

    public func releaseStream(userID: User.ID, lease: String) async throws {
        try await guarded(()) { try await inner.releaseStream(userID: userID, lease: lease) }
    }

    public func settleTurn(userID: User.ID, lease: String?, tokens: Int?, now: Date) async throws {
        try await guarded(()) { try await inner.settleTurn(userID: userID, lease: lease, tokens: tokens, now: now) }
    }

    public func admitWindow(_ tier: RateTier, key: String, limit: Int, window: Duration, record: Bool, now: Date) async throws -> RateDecision {
        try await guarded(.allowed([])) { try await inner.admitWindow(tier, key: key, limit: limit, window: window, record: record, now: now) }
    }

    public func refundMessage(userID: User.ID, admittedAt: Date) async throws {
        try await guarded(()) { try await inner.refundMessage(userID: userID, admittedAt: admittedAt) }
    }

    public func refundWindow(_ tier: RateTier, key: String, admittedAt: Date) async throws {
        try await guarded(()) { try await inner.refundWindow(tier, key: key, admittedAt: admittedAt) }
    }

    public func usage(userID: User.ID, limits: RateLimits, now: Date) async throws -> [TierUsage] {
        try await guarded([]) { try await inner.usage(userID: userID, limits: limits, now: now) }
    }
}
