import ChatAPI
import ChatCore
import Coordination
import HTTPServer
import Logging
import RedisClient
import Testing

/// Errors of the adapters as the API renders them.
@Suite(.timeLimit(.minutes(1))) struct ErrorMappingTests {
    static let logger = Logger(label: "test.errors")

    @Test func anUnreachableRedisIsAServiceUnavailableWithRetryAfter() {
        let problem = ErrorMapping.problem(for: RedisError(.unavailable, "cannot connect"), logger: Self.logger)
        #expect(problem.status == .serviceUnavailable)
        #expect(problem.code == "unavailable")
        #expect(problem.response.headers["Retry-After"] == "5")
    }

    @Test func aRedisThatAnswersWithAnErrorIsTheServersFault() {
        #expect(ErrorMapping.problem(for: RedisError(.server, "WRONGTYPE"), logger: Self.logger).status == .internalServerError)
    }
}
