import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// The files around the code stay true to it: `.env.example`, the Dockerfile's packages,
/// `docker-compose.yml`.
@Suite(.timeLimit(.minutes(5))) struct RepositoryFilesTests {
    static let root = ParleyProcess.repositoryRoot

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every variable the server reads is documented, and every documented one is read.
    @Test func envExampleListsExactlyTheVariablesTheCodeReads() throws {
        let sources = try FileManager.default.subpathsOfDirectory(atPath: Self.root.appendingPathComponent("Sources/parley").path)
            .filter { $0.hasSuffix(".swift") }
        let reads = try Regex(#"(?:env\.(?:string|integer|seconds|choice)\(|env\[|limit\()"([A-Z][A-Z0-9_]*)""#)
        var read = Set<String>()
        for file in sources {
            let text = try Self.read("Sources/parley/" + file)
            for match in text.matches(of: reads) { read.insert(String(match.output[1].substring ?? "")) }
        }
        let documented = Set(try Self.read(".env.example").split(separator: "\n").compactMap { line -> String? in
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            return String(line[..<equals])
        })
        #expect(read.count > 30, "the scan found the variables")
        #expect(read.subtracting(documented).sorted() == [], "read but not in .env.example")
        #expect(documented.subtracting(read).sorted() == [], "in .env.example but never read")
    }

    /// No secret, key, database or environment file is tracked: a clone must never carry one.
    @Test func noTrackedFileIsASecretOrADatabase() async throws {
        let listed = try await runProcess(["git", "-C", Self.root.path, "ls-files"])
        try #require(listed.status == 0, "git ls-files: \(listed.stderr)")
        let files = listed.stdout.split(separator: "\n").map(String.init)
        #expect(files.contains("Package.swift"), "the listing is the repository's")
        let forbidden = try Regex(#"(^|/)(\.env(\..+)?|\.parley-dev-jwt-secret|[^/]*\.(db|db-wal|db-shm|sqlite3?|pem|key|p12|pfx)|id_(rsa|ed25519|ecdsa)|credentials)$"#)
        let found = files.filter { $0.contains(forbidden) && $0 != ".env.example" }
        #expect(found == [], "tracked secrets or databases")
    }

    /// The image installs what the Makefile installs: the build stage its build packages, the
    /// runtime stage its runtime packages.
    @Test func dockerfilePackagesMatchTheMakefile() throws {
        let makefile = try Self.read("Makefile")
        func makeList(_ name: String) -> [String] {
            guard let line = makefile.split(separator: "\n").first(where: { $0.hasPrefix(name) }), let equals = line.firstIndex(of: "=") else { return [] }
            return line[line.index(after: equals)...].split(separator: " ").map(String.init).sorted()
        }
        let dockerfile = try Self.read("Dockerfile").split(separator: "\n").map(String.init)
        func dockerList(after marker: String) -> [String] {
            guard let start = dockerfile.firstIndex(of: marker) else { return [] }
            var words: [String] = []
            for line in dockerfile[(start + 1)...] {
                words += line.split(separator: " ").map(String.init)
                if !line.hasSuffix("\\") { break }
            }
            guard let install = words.firstIndex(of: "--no-install-recommends") else { return [] }
            return words[(install + 1)...].filter { $0 != "\\" }.prefix { $0 != "&&" }.map { $0 }.sorted()
        }
        #expect(!makeList("BUILD_PACKAGES").isEmpty)
        #expect(dockerList(after: "# BUILD_PACKAGES") == makeList("BUILD_PACKAGES"))
        #expect(dockerList(after: "# RUNTIME_PACKAGES") == makeList("RUNTIME_PACKAGES"))
        let text = dockerfile.joined(separator: "\n")
        #expect(text.contains("useradd --system --uid 10001") && text.contains("USER 10001:10001"), "runs as a non-root user")
        #expect(text.contains("HEALTHCHECK"))
        #expect(text.contains("http://127.0.0.1:8080/health/ready"), "the health check asks readiness")
        #expect(!text.contains("MIGRATIONS_DIR") && !text.contains("COPY migrations"), "the binary carries its migrations")
    }

    /// Renders the compose file as an operator following the README would: `.env` copied from
    /// `.env.example`, plus `extra`. Returns docker-compose's status and output.
    static func renderCompose(extra: String) async throws -> ProcessResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-compose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for file in ["docker-compose.yml", "Dockerfile", "deploy"] {
            try FileManager.default.copyItem(at: Self.root.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        try (try Self.read(".env.example") + "\n" + extra).write(to: folder.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        return try await runProcess(["docker-compose", "--project-directory", folder.path, "-f", folder.appendingPathComponent("docker-compose.yml").path, "config"])
    }

    /// `docker-compose config` accepts the file (no engine needed): production whatever `.env`
    /// says (it says development), Postgres and Redis health-gated, Redis keeping its data.
    @Test func composeRunsProductionWhateverDotEnvSays() async throws {
        let result = try await Self.renderCompose(extra: "POSTGRES_PASSWORD=test-password\nJWT_SECRET=\(String(repeating: "s", count: 40))\n")
        #expect(result.status == 0, "\(result.stderr)")
        for expected in ["image: postgres:16", "image: redis:7", "condition: service_healthy", "postgres-data", "redis-data:/data",
                         "APP_ENV: production", "JWT_SECRET: \(String(repeating: "s", count: 40))", "- --appendonly\n    - \"yes\""] {
            #expect(result.stdout.contains(expected), "\(expected) in\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("APP_ENV: development"))
        // The cluster profile: three named instances behind nginx with the repository's proxy settings.
        for expected in ["INSTANCE_ID: parley-1", "INSTANCE_ID: parley-3", "image: nginx:1.27", "deploy/nginx/parley-locations.conf", "- cluster"] {
            #expect(result.stdout.contains(expected), "\(expected)")
        }
    }

    /// Without the two secrets compose refuses to start, naming what is missing.
    @Test func composeRefusesToStartWithoutItsSecrets() async throws {
        let noSecret = try await Self.renderCompose(extra: "POSTGRES_PASSWORD=test-password\n")
        #expect(noSecret.status != 0)
        #expect(noSecret.stderr.contains("set JWT_SECRET in .env"), "\(noSecret.stderr)")
        let noPassword = try await Self.renderCompose(extra: "JWT_SECRET=\(String(repeating: "s", count: 40))\n")
        #expect(noPassword.status != 0)
        #expect(noPassword.stderr.contains("set POSTGRES_PASSWORD in .env"), "\(noPassword.stderr)")
    }
}
