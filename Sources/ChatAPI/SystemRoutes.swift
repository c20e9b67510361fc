public import HTTPServer

/// Routes about the process itself rather than chat: liveness for load balancers and containers.
public enum SystemRoutes {
    /// `GET /health`: answers as long as the process serves HTTP; it checks no dependency,
    /// so an orchestrator does not restart a healthy process because a database blinked.
    public static func register(on router: inout RouterBuilder, version: String) {
        let body = Array("{\"status\":\"ok\",\"version\":\(jsonQuoted(version))}".utf8)
        router.get("/health") { _ in
            Response(contentType: "application/json", body: body)
        }
    }
}
