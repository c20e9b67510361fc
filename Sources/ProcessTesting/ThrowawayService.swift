import Foundation
import Testing

/// A database or cache of a test's own, started by one of the repository's `scripts/test-*.sh`
/// (`start` prints `export NAME=value` lines; `stop`, `restart`, `teardown` use them), so a test
/// can stop it without disturbing any other test.
public struct ThrowawayService: Sendable {
    public let environment: [String: String]
    let script: String

    /// `scripts/<name>` of this repository.
    public static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts").appendingPathComponent(name).path
    }

    /// Starts the service; nil if it cannot be started here (outside CI only: in CI that fails the test).
    public static func start(_ scriptName: String) async throws -> ThrowawayService? {
        let script = script(scriptName)
        let started = try await runProcess([script, "start"])
        guard started.status == 0 else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("cannot start \(scriptName): \(started.stderr)") }
            return nil
        }
        var environment = ProcessInfo.processInfo.environment
        for line in started.stdout.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { environment[String(pair[0])] = String(pair[1]) }
        }
        return ThrowawayService(environment: environment, script: script)
    }

    public subscript(name: String) -> String? { environment[name] }

    /// Whether a test that starts its own PostgreSQL can run here: its server binaries are
    /// installed (in CI always: a missing one must fail, not skip).
    public static var canStartPostgres: Bool {
        ProcessInfo.processInfo.environment["CI"] != nil
            || ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).contains {
                FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb")
            }
    }

    /// Whether a test that starts its own Redis can run here (in CI always).
    public static var canStartRedis: Bool {
        ProcessInfo.processInfo.environment["CI"] != nil
            || ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether the shared test PostgreSQL of `make test` is there (in CI always).
    public static var postgresConfigured: Bool {
        ProcessInfo.processInfo.environment["PARLEY_TEST_POSTGRES_URL"] != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Whether the shared test Redis of `make test` is there (in CI always).
    public static var redisConfigured: Bool {
        ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"] != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Runs one of the script's commands (`stop`, `restart`, `freeze`, `thaw`, `teardown`), and
    /// records an issue if it fails.
    public func run(_ command: String) async throws {
        let result = try await runProcess([script, command], environment: environment)
        #expect(result.status == 0, "\(command): \(result.stderr)")
    }
}
