import ChatAPI
import Foundation
import HTTPServer
import HTTPServerTesting
import ProcessTesting
import Logging
import Metrics
import RedisClient
import Synchronization
import Testing

/// Request ids, access metrics, readiness and CORS on a live server.
@Suite(.timeLimit(.minutes(5))) struct ObservabilityTests {
    final class Switch: Sendable {
        let on = Atomic<Bool>(true)
    }

    static func withServer(readiness: [ReadinessCheck] = [], cors: CORS.Origins? = nil,
                           _ body: (APIClient, MetricsRegistry) async throws -> Void) async throws {
        var logger = Logger(label: "test.observability")
        logger.logLevel = .critical
        let registry = MetricsRegistry()
        var routes = RouterBuilder()
        routes.use(RequestLogging(logger: logger, metrics: HTTPMetrics(registry: registry)))
        if let cors { routes.use(CORS(origins: cors)) }
        SystemRoutes.register(on: &routes, version: "test", readiness: readiness, metrics: registry)
        routes.get("/v1/things/{id}") { _ in Response(contentType: "application/json", body: Array("{}".utf8)) }
        try await TestServer.with(responder: routes.build(logger: logger)) { server in
            try await body(APIClient(port: server.port), registry)
        }
    }

    /// With a token, `/metrics` answers only a request that presents it.
    @Test func metricsBehindATokenRefuseOthers() async throws {
        var routes = RouterBuilder()
        SystemRoutes.registerMetrics(on: &routes, registry: MetricsRegistry(), token: "sixteen-characters")
        let router = routes.build()
        func status(_ authorization: String?) async -> Int {
            var headers = HTTPFields()
            if let authorization { headers.add("Authorization", authorization) }
            return await router.respond(to: Request(method: .get, target: "/metrics", headers: headers)).status.code
        }
        #expect(await status(nil) == 401)
        #expect(await status("Bearer sixteen-characterz") == 401)
        #expect(await status("Bearer sixteen-characters") == 200)
    }

    @Test func requestIDsAreKeptWhenSaneAndMadeOtherwise() async throws {
        try await Self.withServer { api, _ in
            #expect(try await api.call("GET", "/health", headers: [("X-Request-ID", "edge-42.a:b_c")]).headers["x-request-id"] == "edge-42.a:b_c")
            let made = try await api.call("GET", "/health").headers["x-request-id"]
            #expect(made.flatMap(UUID.init(uuidString:)) != nil)
            for bad in ["has space", String(repeating: "a", count: 129), "quote\"d", "semi;colon"] {
                let replaced = try await api.call("GET", "/health", headers: [("X-Request-ID", bad)]).headers["x-request-id"]
                #expect(replaced != bad)
                #expect(replaced.flatMap(UUID.init(uuidString:)) != nil)
            }
        }
    }

    /// Every sample line is `name{labels} value`; requests are counted by route pattern, so
    /// two ids are one series and unknown paths are one `unmatched` series.
    @Test func metricsAreValidExpositionCountedByRoute() async throws {
        try await Self.withServer { api, _ in
            _ = try await api.call("GET", "/v1/things/1")
            _ = try await api.call("GET", "/v1/things/2")
            _ = try await api.call("GET", "/nowhere/\(UUID())")
            let reply = try await api.call("GET", "/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let sample = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$|^[a-zA-Z_:]+(\{.*\})? \+Inf$"#)
            var samples: [String: Double] = [:]
            for line in reply.text.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(line.wholeMatch(of: sample) != nil, "\(line)")
                let parts = line.split(separator: " ")
                samples[String(parts[0])] = Double(parts[1])
            }
            #expect(samples[#"parley_http_requests_total{route="/v1/things/{id}",method="GET",status="200"}"#] == 2)
            #expect(samples[#"parley_http_requests_total{route="unmatched",method="GET",status="404"}"#] == 1)
            #expect(samples[#"parley_http_request_duration_seconds_count{route="/v1/things/{id}",method="GET"}"#] == 2)
            #expect(samples[#"parley_http_request_duration_seconds_bucket{route="/v1/things/{id}",method="GET",le="+Inf"}"#] == 2)
            #expect(samples["parley_sse_streams_open"] == 0)
        }
    }

    @Test func readinessNamesTheDependencyThatIsDown() async throws {
        let database = Switch()
        let checks = [ReadinessCheck("database") { database.on.load(ordering: .relaxed) }, ReadinessCheck("provider") { true }]
        try await Self.withServer(readiness: checks) { api, _ in
            let ready = try await api.call("GET", "/health/ready")
            #expect(ready.status == 200)
            #expect(ready["status"] == "ready")
            database.on.store(false, ordering: .relaxed)
            let down = try await api.call("GET", "/health/ready")
            #expect(down.status == 503)
            #expect(down.headers["retry-after"] == "5")
            #expect(down.text == #"{"status":"unavailable","checks":{"database":"unavailable","provider":"ok"}}"#)
            #expect(try await api.call("GET", "/health").status == 200, "liveness does not depend on the database")
        }
    }

    /// Readiness follows a real Redis going away and coming back.
    @Test(.enabled(if: ThrowawayService.canStartRedis, "no redis-server to start a Redis of its own")) func readinessFollowsRedis() async throws {
        guard let redis = try await ThrowawayService.start("test-redis.sh"), let url = redis["PARLEY_TEST_REDIS_URL"] else { return }
        var configuration = try RedisConfiguration(url: url)
        configuration.connectTimeout = .milliseconds(200)
        configuration.commandTimeout = .milliseconds(200)
        var quiet = Logger(label: "test.redis")
        quiet.logLevel = .critical
        let client = RedisClient(configuration: configuration, logger: quiet)
        do {
            try await Self.withServer(readiness: [ReadinessCheck("redis") { await client.ping() }]) { api, _ in
                #expect(try await api.call("GET", "/health/ready").status == 200)
                try await redis.run("stop")
                let down = try await api.call("GET", "/health/ready")
                #expect(down.status == 503)
                #expect(down.text.contains(#""redis":"unavailable""#))
                try await redis.run("restart")
                var status = 0
                for _ in 0..<60 where status != 200 {
                    status = try await api.call("GET", "/health/ready").status
                    if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(status == 200, "ready again once Redis is back")
            }
        } catch {
            try? await redis.run("teardown")
            throw error
        }
        try await redis.run("teardown")
    }

    @Test func corsAnswersAllowedOriginsOnly() async throws {
        try await Self.withServer(cors: .list(["https://app.example.org"])) { api, _ in
            let preflight = try await api.call("OPTIONS", "/v1/things/1", headers: [
                ("Origin", "https://app.example.org"), ("Access-Control-Request-Method", "PATCH"),
                ("Access-Control-Request-Headers", "authorization, content-type"),
            ])
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://app.example.org")
            #expect(preflight.headers["access-control-allow-methods"]?.contains("PATCH") == true)
            #expect(preflight.headers["access-control-allow-headers"]?.contains("Authorization") == true)
            let refused = try await api.call("OPTIONS", "/v1/things/1", headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")])
            #expect(refused.status == 403)
            #expect(refused.headers["access-control-allow-origin"] == nil)

            let actual = try await api.call("GET", "/v1/things/1", headers: [("Origin", "https://app.example.org")])
            #expect(actual.headers["access-control-allow-origin"] == "https://app.example.org")
            #expect(actual.headers["access-control-expose-headers"]?.contains("X-RateLimit-Remaining") == true)
            #expect(actual.headers["vary"] == "Origin")
            let other = try await api.call("GET", "/v1/things/1", headers: [("Origin", "https://evil.example")])
            #expect(other.headers["access-control-allow-origin"] == nil)
            #expect(try await api.call("GET", "/v1/things/1").headers["vary"] == nil, "no Origin, no CORS")
        }
    }
}
