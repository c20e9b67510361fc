import ChatAPI
import ChatCore
import FoundationEssentials
import HTTPServer
import Metrics
import Storage

/// The process's metrics beyond HTTP: turns (first-token latency, endings and errors by model,
/// tokens streamed), rate-limit decisions, and gauges read at scrape time.
final class ChatMetrics: TurnObserver {
    let http: HTTPMetrics
    private let firstTokenLatency: Histogram
    private let turns: Counter
    private let tokens: Counter
    let rateDecisions: Counter

    init(registry: MetricsRegistry) {
        http = HTTPMetrics(registry: registry)
        firstTokenLatency = registry.histogram("parley_upstream_first_token_seconds", "Time from sending a turn upstream to its first token, by model.",
                                               labels: ["model"])
        turns = registry.counter("parley_turns_total", "Turns ended, by model, status and error code.", labels: ["model", "status", "error"])
        tokens = registry.counter("parley_tokens_streamed_total", "Completion tokens generated, by model.", labels: ["model"])
        rateDecisions = registry.counter("parley_rate_limit_decisions_total", "Rate-limit checks, by kind, tier and outcome.",
                                         labels: ["check", "tier", "outcome"])
    }

    func firstToken(model: String, after latency: Duration) {
        firstTokenLatency.observe(latency, [model])
    }

    func turnEnded(model: String, status: Message.Status, failure: String?, completionTokens: Int) {
        turns.increment([model, status.rawValue, failure ?? ""])
        tokens.increment([model], by: Double(completionTokens))
    }

    /// Gauges that read live state: open connections, running turns, database pool use.
    func watch(server: Server, turns registry: TurnRegistry, database: any SQLDatabase) {
        let metrics = http.registry
        metrics.gauge("parley_http_connections_open", "Open client connections.") { Double(server.openConnectionCount) }
        metrics.gauge("parley_turns_running", "Answers being generated in this process.") { Double(registry.running.count) }
        metrics.gauge("parley_answers_unsaved", "Finished answers the database has not taken yet (written again with back-off).") {
            Double(registry.pending.count)
        }
        metrics.gauge("parley_db_pool_connections", "Database pool connections by state.", labels: ["state"]) {
            guard let usage = database.poolUsage else { return [] }
            return [(["in_use"], Double(usage.inUse)), (["size"], Double(usage.size))]
        }
    }
}

/// Counts the decisions of a rate limiter, by check, tier and outcome.
struct MeteredRateLimiter: RateLimiter {
    let inner: any RateLimiter
    let decisions: Counter

    private func count(_ check: String, _ decision: RateDecision) -> RateDecision {
        switch decision {
        case .allowed: decisions.increment([check, "", "allowed"])
        case .refused(let usage): decisions.increment([check, usage.tier.rawValue, "refused"])
        }
        return decision
    }

    func admitMessage(userID: User.ID, limits: RateLimits, now: Date) async throws -> RateDecision {
        count("message", try await inner.admitMessage(userID: userID, limits: limits, now: now))
    }

    func chargeTokens(userID: User.ID, tokens: Int, now: Date) async throws {
        try await inner.chargeTokens(userID: userID, tokens: tokens, now: now)
    }

    func acquireStream(userID: User.ID, lease: String, limit: Int?, serverLimit: Int?, now: Date, ttl: Duration) async throws -> RateDecision {
        count("stream", try await inner.acquireStream(userID: userID, lease: lease, limit: limit, serverLimit: serverLimit, now: now, ttl: ttl))
    }

    func renewStream(userID: User.ID, lease: String, now: Date, ttl: Duration) async throws {
        try await inner.renewStream(userID: userID, lease: lease, now: now, ttl: ttl)
    }

    func releaseStream(userID: User.ID, lease: String) async throws {
        try await inner.releaseStream(userID: userID, lease: lease)
    }

    func settleTurn(userID: User.ID, lease: String?, tokens: Int?, now: Date) async throws {
        try await inner.settleTurn(userID: userID, lease: lease, tokens: tokens, now: now)
    }

    func admitWindow(_ tier: RateTier, key: String, limit: Int, window: Duration, record: Bool, now: Date) async throws -> RateDecision {
        let decision = try await inner.admitWindow(tier, key: key, limit: limit, window: window, record: record, now: now)
        return record ? count(tier == .authIP ? "auth" : tier.rawValue, decision) : decision
    }

    func refundMessage(userID: User.ID, admittedAt: Date) async throws {
        try await inner.refundMessage(userID: userID, admittedAt: admittedAt)
    }

    func refundWindow(_ tier: RateTier, key: String, admittedAt: Date) async throws {
        try await inner.refundWindow(tier, key: key, admittedAt: admittedAt)
    }

    func usage(userID: User.ID, limits: RateLimits, now: Date) async throws -> [TierUsage] {
        try await inner.usage(userID: userID, limits: limits, now: now)
    }
}
