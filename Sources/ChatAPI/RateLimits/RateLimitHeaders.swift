import ChatCore
import FoundationEssentials
import HTTPServer

/// The `X-RateLimit-*` headers of a limited route: the request tier closest to its limit,
/// with the seconds until it frees up. The stream cap is left out: the answer being sent holds
/// a place only while it runs (it is in `GET /v1/usage`, and a 429 names it). Applied by the
/// route's policy and by the handler (the tiers the use case checks): the closer one stays.
enum RateLimitHeaders {
    static func apply(_ tiers: [TierUsage], now: Date, to response: inout Response) {
        guard let binding = tiers.filter({ $0.tier != .concurrentStreams }).min(by: { $0.remaining < $1.remaining }) else { return }
        if let present = response.headers["X-RateLimit-Remaining"].flatMap({ Int($0) }), present <= binding.remaining { return }
        response.headers.set("X-RateLimit-Limit", String(binding.limit))
        response.headers.set("X-RateLimit-Remaining", String(binding.remaining))
        response.headers.set("X-RateLimit-Reset", String(max(0, Int(binding.resetAt.timeIntervalSince(now).rounded(.up)))))
    }
}
