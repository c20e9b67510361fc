import ChatAPI
import ChatCore
import Coordination
import ChatCoreTesting
import Foundation
import HTTPServer
import HTTPServerTesting
import ProcessTesting
import Logging
import Security
import Storage
import StorageTesting
import Testing

/// The account routes on `database`, with a quiet logger: what the outage tests exercise.
func accountRoutes(on database: any SQLDatabase) -> (RouterBuilder, Logger) {
    let deps = AuthDependencies(
        users: SQLUserRepository(database: database), refreshTokens: SQLRefreshTokenRepository(database: database),
        apiKeys: SQLAPIKeyRepository(database: database), hasher: PlainPasswordHasher(),
        accessTokens: JWTIssuer(secret: Array("test-secret-test-secret-test-secret!".utf8)),
        secrets: SecureSecretGenerator(), decoyPasswordHash: "plain$-"
    )
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    var routes = RouterBuilder()
    AccountRoutes.register(on: &routes, deps: deps, limits: .none(limiter: InProcessRateLimiter()),
                           cookie: RefreshCookie(alwaysSecure: false, clients: ClientAddress(), lifetime: .seconds(3600)), logger: logger)
    return (routes, logger)
}

/// PostgreSQL stops in the middle of a run: requests get a 503 problem within the acquire
/// timeout (not a hang, not a 500), readiness says the database is down, and both recover
/// once it is back.
@Suite(.timeLimit(.minutes(5))) struct DatabaseOutageTests {
    @Test(.enabled(if: ThrowawayService.canStartPostgres, "no PostgreSQL server binaries to start a database of its own")) func requestsGet503WhileTheDatabaseIsDownAndRecover() async throws {
        guard let postgres = try await ThrowawayService.start("test-postgres.sh"), let url = postgres["PARLEY_TEST_POSTGRES_URL"] else { return }
        do {
            try await scenario(postgres, url: url)
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    func scenario(_ postgres: ThrowawayService, url: String) async throws {
        let database = try await PostgresDatabase(url: url, poolSize: 4, acquireTimeout: .seconds(1))
        try await Migrator(database: database, directory: migrationsDirectory).migrate()
        var (routes, logger) = accountRoutes(on: database)
        SystemRoutes.register(on: &routes, version: "test", readiness: [ReadinessCheck("database") { await database.ping() }])
        try await TestServer.with(responder: routes.build(logger: logger)) { server in
            let api = APIClient(port: server.port)
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)

            try await postgres.run("stop")
            let started = ContinuousClock.now
            let down = try await api.call("GET", "/v1/users/me", token: token)
            #expect(down.status == 503)
            #expect(down["code"] == "unavailable")
            #expect(down.headers["retry-after"] != nil)
            #expect(ContinuousClock.now - started < .seconds(3))
            let notReady = try await api.call("GET", "/health/ready")
            #expect(notReady.status == 503)
            #expect(notReady.text.contains(#""database":"unavailable""#))

            try await postgres.run("restart")
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)
            #expect(try await api.call("GET", "/health/ready").status == 200)
            #expect(try await api.register("bob@example.org").status == 201)
        }
        await database.close()
    }
}

/// The pool heals itself after killed backends, and a database that takes reads but not
/// writes gives 503 for the writes, never 500, and serves the reads.
@Suite(.timeLimit(.minutes(5))) struct DatabaseFaultTests {
    @Test(.enabled(if: ThrowawayService.canStartPostgres, "no PostgreSQL server binaries to start a database of its own")) func killedBackendsAndAReadOnlyDatabase() async throws {
        guard let postgres = try await ThrowawayService.start("test-postgres.sh"), let url = postgres["PARLEY_TEST_POSTGRES_URL"] else { return }
        do {
            try await scenario(url: url)
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    func psql(_ url: String, _ sql: String) async throws {
        let result = try await runProcess(["psql", url, "-qAtc", sql])
        #expect(result.status == 0, "\(sql): \(result.stderr)")
    }

    func scenario(url: String) async throws {
        let admin = url.replacingOccurrences(of: "/parley_test", with: "/postgres")
        let killBackends = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'parley_test' AND pid <> pg_backend_pid()"
        let database = try await PostgresDatabase(url: url, poolSize: 4, acquireTimeout: .seconds(2))
        try await Migrator(database: database).migrate()
        let (routes, logger) = accountRoutes(on: database)
        try await TestServer.with(responder: routes.build(logger: logger)) { server in
            let api = APIClient(port: server.port)
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let key = try #require(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"k"}"#)["key"])
            // Fill the pool with idle connections, then kill every backend.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await api.call("GET", "/v1/users/me", token: token).status } }
                for try await status in group { #expect(status == 200) }
            }
            try await psql(admin, killBackends)
            var failed = 0
            for _ in 0..<10 where try await api.call("GET", "/v1/users/me", token: token).status != 200 { failed += 1 }
            #expect(failed <= 1, "\(failed) requests failed after the backends were killed: the pool should drop them all at the first failure")

            // Read-only: reads (an API key's too, whose last-used time cannot be written) work;
            // writes are 503 with Retry-After.
            try await psql(admin, "ALTER DATABASE parley_test SET default_transaction_read_only = on")
            try await psql(admin, killBackends)
            _ = try? await api.call("GET", "/v1/users/me", token: token)  // may meet a dead connection once
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)
            #expect(try await api.call("GET", "/v1/users/me", token: key).status == 200, "a side write does not fail a read")
            let write = try await api.register("bob@example.org")
            #expect(write.status == 503, "\(write.text)")
            #expect(write.headers["retry-after"] != nil)
            try await psql(admin, "ALTER DATABASE parley_test SET default_transaction_read_only = off")
            try await psql(admin, killBackends)
            _ = try? await api.register("carol@example.org")  // may meet a dead connection once
            #expect(try await api.register("bob@example.org").status == 201, "writable again")
        }
        await database.close()
    }
}
