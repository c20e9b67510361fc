import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// `parley user create`, `parley migrate` and the account configuration, as real processes.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AccountCommandTests {
    func parley(_ arguments: [String], stdin: String? = nil, environment: [String: String]) async throws -> ProcessResult {
        try await runProcess([ParleyProcess.binaryPath] + arguments, stdin: stdin.map { Array($0.utf8) }, environment: environment)
    }

    @Test func userCreateReadsThePasswordFromStdinAndTheAdminCanSignIn() async throws {
        let env = ParleyProcess.testEnvironment()
        let created = try await parley(["user", "create", "--email", "Root@Example.org", "--admin"], stdin: "root password\n", environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.hasPrefix("created admin root@example.org ("))
        let again = try await parley(["user", "create", "--email", "root@example.org"], stdin: "another password\n", environment: env)
        #expect(again.status == 1)
        #expect(again.stderr.contains("an account with this e-mail already exists"))
        let weak = try await parley(["user", "create", "--email", "x@example.org"], stdin: "short\n", environment: env)
        #expect(weak.status == 1)
        #expect(weak.stderr.contains("password must be at least 8 characters"))

        var serveEnv = env
        serveEnv["PORT"] = "0"
        let server = try ParleyProcess(["serve"], environment: serveEnv)
        let port = try await server.waitForPort()
        let login = try await runProcess(["curl", "-s", "-H", "Content-Type: application/json",
                                          "-d", #"{"email":"root@example.org","password":"root password"}"#, "http://127.0.0.1:\(port)/v1/auth/login"])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(login.stdout.utf8)) as? [String: Any])?["access_token"] as? String)
        let users = try await runProcess(["curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/v1/admin/users"])
        #expect(users.stdout.hasSuffix("\n200"))
        #expect(users.stdout.contains("root@example.org"))
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }

    /// The operator's commands: list (with a search), set a password (the old one and its
    /// sign-ins end), disable and enable, change a role; the last admin stays an admin.
    @Test func operatorCommandsManageAccounts() async throws {
        let env = ParleyProcess.testEnvironment()
        #expect(try await parley(["user", "create", "--email", "root@example.org", "--admin"], stdin: "root password\n", environment: env).status == 0)
        #expect(try await parley(["user", "create", "--email", "Ann.Smith@example.org"], stdin: "ann password\n", environment: env).status == 0)
        let all = try await parley(["user", "list"], environment: env)
        #expect(all.status == 0)
        #expect(all.stdout.split(separator: "\n").count == 2)
        let found = try await parley(["user", "list", "--email", "SMITH"], environment: env)
        #expect(found.stdout.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) } == ["ann.smith@example.org"])
        #expect(try await parley(["user", "list", "--email", "%"], environment: env).stdout.isEmpty, "% is a character, not a wildcard")

        #expect(try await parley(["user", "set-password", "--email", "ann.smith@example.org"], stdin: "a new secret\n", environment: env).status == 0)
        let disabled = try await parley(["user", "disable", "--email", "ann.smith@example.org"], environment: env)
        #expect(disabled.stdout.contains("\tdisabled\t"))
        let last = try await parley(["user", "role", "--email", "root@example.org", "--role", "user"], environment: env)
        #expect(last.status == 1)
        #expect(last.stderr.contains("this is the last active admin"))
        #expect(try await parley(["user", "disable", "--email", "root@example.org"], environment: env).status == 1)
        let missing = try await parley(["user", "enable", "--email", "nobody@example.org"], environment: env)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no account has the e-mail nobody@example.org"))

        var serveEnv = env
        serveEnv["PORT"] = "0"
        let server = try ParleyProcess(["serve"], environment: serveEnv)
        let port = try await server.waitForPort()
        func login(_ password: String) async throws -> String {
            try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                                  "-d", #"{"email":"ann.smith@example.org","password":"\#(password)"}"#, "http://127.0.0.1:\(port)/v1/auth/login"]).stdout
        }
        #expect(try await login("a new secret") == "403", "disabled")
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
        #expect(try await parley(["user", "enable", "--email", "ann.smith@example.org"], environment: env).status == 0)
        #expect(try await parley(["user", "role", "--email", "ann.smith@example.org", "--role", "admin"], environment: env).stdout.contains("\tadmin\t"))
        let again = try ParleyProcess(["serve"], environment: serveEnv)
        let port2 = try await again.waitForPort()
        let ok = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                                       "-d", #"{"email":"ann.smith@example.org","password":"a new secret"}"#, "http://127.0.0.1:\(port2)/v1/auth/login"])
        #expect(ok.stdout == "200", "the new password, enabled again")
        let old = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                                        "-d", #"{"email":"ann.smith@example.org","password":"ann password"}"#, "http://127.0.0.1:\(port2)/v1/auth/login"])
        #expect(old.stdout == "401", "not the old one")
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)
    }

    @Test func migrateAppliesOnceThenReportsUpToDate() async throws {
        let env = ParleyProcess.testEnvironment()
        let first = try await parley(["migrate"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("applied: 0001_accounts.sql"))
        let second = try await parley(["migrate"], environment: env)
        #expect(second.stdout.contains("database is up to date"))
    }

    /// The binary carries its migrations: run from a folder with no `migrations/` and no
    /// `MIGRATIONS_DIR`, it sets up a database all the same.
    @Test func migratesFromAnyFolder() async throws {
        let env = ParleyProcess.testEnvironment()
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("parley-elsewhere-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let result = try await runProcess(["sh", "-c", "cd \"$1\" && exec \"$2\" migrate", "sh", elsewhere.path, ParleyProcess.binaryPath],
                                          environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("applied: 0001_accounts.sql"), "\(result.stdout)")
        #expect(result.stdout.contains("0003_turns.sql"))
    }

    @Test func productionRefusesToStartWithoutAJWTSecret() async throws {
        let result = try await parley(["serve"], environment: ParleyProcess.testEnvironment(["APP_ENV": "production", "PORT": "0"]))
        #expect(result.status == 78)
        #expect(result.stderr.contains("JWT_SECRET is required when APP_ENV=production"))
        let short = try await parley(["serve"], environment: ParleyProcess.testEnvironment(["JWT_SECRET": "too-short", "PORT": "0"]))
        #expect(short.status == 78)
        #expect(short.stderr.contains("JWT_SECRET must be at least 32 bytes"))
    }

    @Test func devSecretIsKeptSoSessionsSurviveARestart() async throws {
        let env = ParleyProcess.testEnvironment(["PORT": "0"])
        func start() async throws -> (ParleyProcess, Int) {
            let p = try ParleyProcess(["serve"], environment: env)
            return (p, try await p.waitForPort())
        }
        var (server, port) = try await start()
        let reg = try await runProcess(["curl", "-s", "-H", "Content-Type: application/json",
                                        "-d", #"{"email":"a@example.org","password":"correct horse"}"#, "http://127.0.0.1:\(port)/v1/auth/register"])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(reg.stdout.utf8)) as? [String: Any])?["access_token"] as? String)
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
        (server, port) = try await start()
        let me = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/v1/users/me"])
        #expect(me.stdout == "200")
        let secretFile = URL(fileURLWithPath: String(env["DATABASE_URL"]?.dropFirst("sqlite://".count) ?? "")).deletingLastPathComponent()
            .appendingPathComponent(".parley-dev-jwt-secret").path
        let mode = try FileManager.default.attributesOfItem(atPath: secretFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }

    /// Each data folder gets a secret of its own, readable by its owner only, and the
    /// database beside it is private too (it holds password hashes and conversations).
    @Test func freshDataFoldersGetDifferentPrivateSecrets() async throws {
        var secrets: [String] = []
        for _ in 0..<2 {
            let env = ParleyProcess.testEnvironment(["PORT": "0"])
            let server = try ParleyProcess(["serve"], environment: env)
            _ = try await server.waitForPort()
            server.signal(SIGTERM)
            #expect(await server.waitForExit() == 0)
            let database = String(env["DATABASE_URL"]?.dropFirst("sqlite://".count) ?? "")
            let secretFile = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent(".parley-dev-jwt-secret").path
            for file in [secretFile, database] {
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file)")
            }
            secrets.append(try String(contentsOfFile: secretFile, encoding: .utf8))
        }
        #expect(secrets[0].count >= 32)
        #expect(secrets[0] != secrets[1])
    }

    /// A secret file others can read could have been read by them: it is refused, not used.
    @Test(.timeLimit(.minutes(1))) func refusesASecretFileOthersCanRead() async throws {
        let env = ParleyProcess.testEnvironment(["PORT": "0"])
        let database = String(env["DATABASE_URL"]?.dropFirst("sqlite://".count) ?? "")
        let secretFile = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent(".parley-dev-jwt-secret").path
        try String(repeating: "a", count: 64).write(toFile: secretFile, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: secretFile)
        let server = try ParleyProcess(["serve"], environment: env)
        #expect(await server.waitForExit() == 1)
        #expect(server.log.contains("has mode 644, readable or writable by others"), "\(server.log)")
        #expect(!server.log.contains("\"listening\""))
    }

    @Test(.enabled(if: ThrowawayService.postgresConfigured, "no test PostgreSQL (make test starts one)"))
    func servesOnPostgres() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["PARLEY_TEST_POSTGRES_URL"], "PARLEY_TEST_POSTGRES_URL is not set")
        // A schema of its own, so the migrations run on an empty namespace.
        let schema = "proc_" + UUID().uuidString.prefix(8).lowercased()
        let created = try await runProcess(["psql", url, "-qc", "CREATE SCHEMA \(schema)"])
        #expect(created.status == 0, "\(created.stderr)")
        var env = ParleyProcess.testEnvironment(["PORT": "0"])
        env["DATABASE_URL"] = url + "?options=-c%20search_path%3D\(schema)"
        let server = try ParleyProcess(["serve"], environment: env)
        let port = try await server.waitForPort()
        let reg = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                                        "-d", #"{"email":"pg@example.org","password":"correct horse"}"#, "http://127.0.0.1:\(port)/v1/auth/register"])
        #expect(reg.stdout == "201")
        #expect(server.log.contains("0001_accounts.sql"))
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }
}
