import ChatAPI
import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServer
import HTTPServerTesting
import Logging
import Security
import Storage
import StorageTesting
import Testing

/// PostgreSQL stops in the middle of a run: requests get a 503 problem within the acquire
/// timeout (not a hang, not a 500), readiness says the database is down, and both recover
/// once it is back.
@Suite struct DatabaseOutageTests {
    @Test func requestsGet503WhileTheDatabaseIsDownAndRecover() async throws {
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
        let deps = AuthDependencies(
            users: SQLUserRepository(database: database), refreshTokens: SQLRefreshTokenRepository(database: database),
            apiKeys: SQLAPIKeyRepository(database: database), hasher: PlainPasswordHasher(),
            accessTokens: JWTIssuer(secret: Array("test-secret-test-secret-test-secret!".utf8)),
            secrets: SecureSecretGenerator(), decoyPasswordHash: "plain$-"
        )
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var routes = RouterBuilder()
        AccountRoutes.register(on: &routes, deps: deps, logger: logger)
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
