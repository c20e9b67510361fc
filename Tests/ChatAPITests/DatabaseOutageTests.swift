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
/// timeout (not a hang, not a 500), and work again once the database is back.
@Suite struct DatabaseOutageTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/test-postgres.sh").path

    /// This test's own PostgreSQL, so stopping it disturbs no other test.
    struct OwnPostgres {
        let url: String
        let environment: [String: String]

        static func start() async throws -> OwnPostgres? {
            let started = try await runProcess([script, "start"])
            guard started.status == 0 else {
                if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("cannot start PostgreSQL: \(started.stderr)") }
                return nil
            }
            var environment = ProcessInfo.processInfo.environment
            for line in started.stdout.split(separator: "\n") where line.hasPrefix("export ") {
                let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
                if pair.count == 2 { environment[String(pair[0])] = String(pair[1]) }
            }
            guard let url = environment["PARLEY_TEST_POSTGRES_URL"] else { return nil }
            return OwnPostgres(url: url, environment: environment)
        }

        func run(_ command: String) async throws {
            let result = try await runProcess([DatabaseOutageTests.script, command], environment: environment)
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
    }

    @Test func requestsGet503WhileTheDatabaseIsDownAndRecover() async throws {
        guard let postgres = try await OwnPostgres.start() else { return }
        do {
            try await scenario(postgres)
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    func scenario(_ postgres: OwnPostgres) async throws {
        let database = try await PostgresDatabase(url: postgres.url, poolSize: 4, acquireTimeout: .seconds(1))
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

            try await postgres.run("restart")
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)
            #expect(try await api.register("bob@example.org").status == 201)
        }
        await database.close()
    }
}
