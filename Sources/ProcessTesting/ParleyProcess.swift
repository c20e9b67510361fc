public import Foundation

/// A `parley` subcommand running as a child process, with its output captured.
/// Used to test what only a real process shows: signals, exit codes, configuration errors.
public final class ParleyProcess: @unchecked Sendable {
    // `process` and the pipes are set in `init` and never reassigned; `output` is guarded by `lock`.
    let process: Process
    private let lock = NSLock()
    private var output = ""
    private var outputEnded = false

    /// The built `parley` binary: `PARLEY_BIN` if set (the Makefile sets it), else the debug build.
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BIN"] { return path }
        return repositoryRoot.appendingPathComponent(".build/debug/parley").path
    }

    /// The repository this file is in (the tests' scripts, migrations and deploy files).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The repository's `migrations/` folder.
    public static var migrationsDirectory: String {
        repositoryRoot.appendingPathComponent("migrations").path
    }

    /// `parley mock-llm` on an ephemeral port, and that port, once it listens.
    public static func mockUpstream() async throws -> (ParleyProcess, Int) {
        let mock = try ParleyProcess(["mock-llm", "--port", "0", "--log-format", "json"])
        return (mock, try await mock.waitForPort())
    }

    /// The environment a test's parley runs with: JSON logs, a SQLite file of its own in a
    /// fresh temporary folder (never the working directory), the migrations compiled in.
    public static func testEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-proc-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        env["LOG_FORMAT"] = "json"
        // Tests start many guests from one address, over a whole run and often through one
        // shared Redis: the per-client daily cap on guests has tests of its own (in process).
        env["GUEST_DAILY_PER_CLIENT"] = "0"
        env["DATABASE_URL"] = "sqlite://" + folder.appendingPathComponent("parley.db").path
        // No MIGRATIONS_DIR: the binary's own migrations, as it runs anywhere.
        env["MIGRATIONS_DIR"] = nil
        for (k, v) in overrides { env[k] = v }
        return env
    }

    /// `executable` runs something else that starts parley (`prlimit … parley serve`).
    public init(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? Self.binaryPath)
        process.arguments = arguments
        let env = Self.testEnvironment(environment)
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            if data.isEmpty {
                // End of file: the process and everything it started closed their output.
                handle.readabilityHandler = nil
                self.lock.withLock { self.outputEnded = true }
                return
            }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    public var log: String { lock.withLock { output } }

    /// Waits for the `listening` log line and returns the port it names.
    public func waitForPort(timeout: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in log.split(separator: "\n") where line.contains("\"message\":\"listening\"") {
                if let range = line.range(of: "\"parley.port\":\""),
                   let port = Int(line[range.upperBound...].prefix { $0.isNumber }) {
                    return port
                }
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ParleyProcessError.notListening(log)
    }

    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to exit, and for its output to be read to the end, and returns
    /// its status; nil if it is still running at the timeout.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning || !lock.withLock({ outputEnded }) {
            if ContinuousClock.now >= deadline { return process.isRunning ? nil : process.terminationStatus }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

public enum ParleyProcessError: Error, CustomStringConvertible {
    case notListening(String)

    public var description: String {
        switch self {
        case .notListening(let log): "parley did not log a listening port; output:\n\(log)"
        }
    }
}
