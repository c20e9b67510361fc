import FoundationEssentials

/// Failed sign-ins per account: after `maxFailures` within `window` the account takes no
/// password until the oldest of them leaves the window (a back-off an attacker cannot shorten
/// by changing address). Accounts with a recent failure are also `suspect` to the hasher.
///
/// Keyed by the e-mail as typed (lowercased), not by the account, so an unknown address is
/// throttled exactly like a known one and nothing tells them apart.
public struct LoginThrottle: Sendable {
    let limiter: any RateLimiter
    let maxFailures: Int
    let window: Duration

    public init(limiter: any RateLimiter, maxFailures: Int, window: Duration = .seconds(15 * 60)) {
        self.limiter = limiter
        self.maxFailures = maxFailures
        self.window = window
    }

    static func key(_ email: String) -> String {
        String(email.trimmingWhiteSpace().lowercased().prefix(320))
    }

    /// Throws the 429 (tier `login_failures`) while the account is locked; otherwise whether
    /// it has failed recently.
    func admit(_ email: String, now: Date) async throws -> Bool {
        switch try await limiter.admitWindow(.loginFailures, key: Self.key(email), limit: maxFailures, window: window, record: false, now: now) {
        case .refused(let usage): throw DomainError.rateLimited(RateRefusal(usage, now: now))
        case .allowed(let tiers): return tiers.contains { $0.used > 0 }
        }
    }

    func recordFailure(_ email: String, now: Date) async {
        _ = try? await limiter.admitWindow(.loginFailures, key: Self.key(email), limit: maxFailures, window: window, record: true, now: now)
    }
}
