public import HTTPServer
public import Metrics

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
    public static func register(on router: inout RouterBuilder, version: String, readiness: [ReadinessCheck] = [],
                                metrics: MetricsRegistry? = nil) {
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
            let json = "{\"status\":\(ready ? "\"ready\"" : "\"unavailable\""),\"checks\":{\(checks.joined(separator: ","))}}"
            var response = Response(status: ready ? .ok : .serviceUnavailable, contentType: "application/json", body: Array(json.utf8))
            if !ready { response.headers.add("Retry-After", "5") }
            return response
        }
        if let metrics {
            router.get("/metrics") { _ in
                Response(contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metrics.render().utf8))
            }
        }
    }
}
