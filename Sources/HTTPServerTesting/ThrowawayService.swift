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

    /// Runs `stop`, `restart` or `teardown`, and records an issue if it fails.
    public func run(_ command: String) async throws {
        let result = try await runProcess([script, command], environment: environment)
        #expect(result.status == 0, "\(command): \(result.stderr)")
    }
}
