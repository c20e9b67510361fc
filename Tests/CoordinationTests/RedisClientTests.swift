import Foundation
import HTTPServerTesting
import ProcessTesting
import Logging
import RedisClient
import Testing

@Suite(.timeLimit(.minutes(5))) struct RedisClientTests {
    @Test func urlsAreParsedOrRefusedWithTheReason() throws {
        let full = try RedisConfiguration(url: "redis://app:s3cret@cache.internal:6380/2")
        #expect(full.host == "cache.internal" && full.port == 6380 && full.database == 2)
        #expect(full.username == "app" && full.password == "s3cret")
        let passwordOnly = try RedisConfiguration(url: "redis://:pw@127.0.0.1")
        #expect(passwordOnly.username == nil && passwordOnly.password == "pw" && passwordOnly.port == 6379)
        #expect(try RedisConfiguration(url: "redis://[::1]:7000").host == "::1")
        for bad in ["http://localhost", "redis://host:0", "redis://host/16", "redis://"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }

    /// Scripts run by SHA; after `SCRIPT FLUSH` (or a restart) the `NOSCRIPT` error loads them again.
    @Test(.enabled(if: ThrowawayService.redisConfigured, "no test Redis (make test starts one)")) func scriptsSurviveAFlush() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"], "PARLEY_TEST_REDIS_URL is not set")
        let client = RedisClient(configuration: try RedisConfiguration(url: url))
        let script = RedisScript("return tonumber(ARGV[1]) * 2")
        #expect(try await client.run(script, keys: [], arguments: ["21"]) == .integer(42))
        #expect(try await client.command("SCRIPT", "FLUSH") == .status("OK"))
        #expect(try await client.run(script, keys: [], arguments: ["5"]) == .integer(10))
        await #expect(throws: RedisError.self) { try await client.command("NOT-A-COMMAND") }
        #expect(await client.ping())
        await client.close()
    }

    @Test func anUnreachableServerFailsFast() async throws {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:1")
        // Ten waits for this timeout would take 20 s; failing fast takes milliseconds (the bound
        // below leaves room for a machine busy with the other suites).
        configuration.connectTimeout = .seconds(2)
        var quiet = Logger(label: "test.redis")
        quiet.logLevel = .critical
        let client = RedisClient(configuration: configuration, logger: quiet)
        let started = ContinuousClock.now
        for _ in 0..<10 {
            await #expect(throws: RedisError.self) { try await client.command("PING") }
        }
        #expect(ContinuousClock.now - started < .seconds(15))
    }
}
