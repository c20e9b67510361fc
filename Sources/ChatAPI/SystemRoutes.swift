public import HTTPServer
public import Metrics
import JSONText

/// One dependency readiness asks about, and how.
public struct ReadinessCheck: Sendable {
    public let name: String
    public let check: @Sendable () async -> Bool

    public init(_ name: String, _ check: @escaping @Sendable () async -> Bool) {
        self.name = name
        self.check = check
    }
}

/// Routes about the process itself rather than chat: liveness, readiness, metrics.
public enum SystemRoutes {
    /// `GET /health`: answers as long as the process serves HTTP; it checks no dependency,
    /// so an orchestrator does not restart a healthy process because a database blinked.
    /// `GET /health/ready`: 200 only when every check passes (run concurrently), else 503 with
    /// each dependency's state, so a load balancer sends no traffic to an instance that
    /// cannot serve it. `GET /metrics`: the Prometheus text exposition.
    /// `warnings` are counts readiness reports without failing (answers waiting to be saved).
    public static func register(on router: inout RouterBuilder, version: String, instance: String? = nil, readiness: [ReadinessCheck] = [],
                                warnings: @escaping @Sendable () -> [String: Int] = { [:] }, metrics: MetricsRegistry? = nil) {
        let body = Array("{\"status\":\"ok\",\"version\":\(jsonQuoted(version))}".utf8)
        router.get("/health") { _ in
            Response(contentType: "application/json", body: body)
        }
        router.get("/health/ready") { _ in
            let results = await withTaskGroup(of: (String, Bool).self) { group in
                for check in readiness { group.addTask { (check.name, await check.check()) } }
                return await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
            }
            let ready = results.values.allSatisfy { $0 }
            let checks = results.sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)):\($0.value ? "\"ok\"" : "\"unavailable\"")" }
            let warned = warnings().filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)):\($0.value)" }
            let extra = warned.isEmpty ? "" : ",\"warnings\":{\(warned.joined(separator: ","))}"
            let named = instance.map { ",\"instance\":\(jsonQuoted($0))" } ?? ""
            let json = "{\"status\":\(ready ? "\"ready\"" : "\"unavailable\""),\"checks\":{\(checks.joined(separator: ","))}\(named)\(extra)}"
            var response = Response(status: ready ? .ok : .serviceUnavailable, contentType: "application/json", body: Array(json.utf8))
            if !ready { response.headers.add("Retry-After", "5") }
            return response
        }
        if let metrics { registerMetrics(on: &router, registry: metrics) }
    }

    /// `GET /metrics`, the Prometheus text exposition; with `token`, only for a request that
    /// presents it as a bearer token (401 otherwise). The counts it shows (failed logins, admin
    /// changes, limits hit) help an attacker, so it is served on its own address or behind a token.
    public static func registerMetrics(on router: inout RouterBuilder, registry metrics: MetricsRegistry, token: String? = nil) {
        let expected = token.map { Array("Bearer \($0)".utf8) }
        router.get("/metrics") { request in
            if let expected, !sameBytes(Array((request.headers["Authorization"] ?? "").utf8), expected) {
                var problem = Problem(.unauthorized, code: "unauthenticated", detail: "the metrics need the bearer token set in METRICS_TOKEN")
                problem.headers.add("WWW-Authenticate", "Bearer realm=\"parley-metrics\"")
                return problem.response
            }
            return Response(contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metrics.render().utf8))
        }
    }

    /// `GET /metrics` where the metrics are not served: 404 saying so (the route exists, so
    /// other methods get 405 like every other path).
    public static func registerMetricsElsewhere(on router: inout RouterBuilder, listener: String?) {
        let detail = listener.map { "metrics are served on their own listener (\($0)), not on this port" }
            ?? "metrics are not served: set METRICS_PORT or METRICS_TOKEN"
        router.get("/metrics") { _ in Problem(.notFound, code: "not_found", detail: detail).response }
    }

    /// Equality whose time does not depend on where the bytes differ.
    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
