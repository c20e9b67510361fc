import HTTPClient
import ChatCore
import Foundation
import HTTPServer
import HTTPServerTesting
@testable import LLMProviders
import MockLLM
import Synchronization
import Testing

/// The provider against `parley mock-llm`'s routes on a real loopback server.
@Suite(.timeLimit(.minutes(5))) struct OpenAICompatibleProviderTests {
    /// One client for the suite; a process that cannot make one fails each test that needs it.
    static let sharedClient = Result { try CurlHTTPClient() }
    static var client: CurlHTTPClient { get throws { try sharedClient.get() } }

    func withUpstream(_ body: (String) async throws -> Void) async throws {
        var routes = RouterBuilder()
        MockUpstream.register(on: &routes)
        try await TestServer.with(responder: routes.build()) { server in
            try await body("http://127.0.0.1:\(server.port)/v1")
        }
    }

    func provider(_ base: String, headers: [(String, String)] = [], configure: (inout OpenAICompatibleConfiguration) -> Void = { _ in }) throws -> OpenAICompatibleProvider {
        var configuration = OpenAICompatibleConfiguration(baseURL: base, apiKey: "sk-test-secret", models: ["mock-model"])
        configuration.extraHeaders = headers
        configuration.backoffBase = .milliseconds(20)
        configure(&configuration)
        return OpenAICompatibleProvider(configuration: configuration, client: try Self.client)
    }

    let request = CompletionRequest(model: "mock-model", messages: [ContextMessage(role: .system, content: "be brief"),
                                                                    ContextMessage(role: .user, content: "alpha beta gamma")])

    /// Collects what a stream delivered before it ended, and how it ended.
    func drain(_ stream: AsyncThrowingStream<CompletionEvent, any Error>) async -> (text: String, events: [CompletionEvent], error: ProviderError?) {
        var text = "", events: [CompletionEvent] = []
        do {
            for try await event in stream {
                events.append(event)
                if case .delta(let d) = event { text += d }
            }
            return (text, events, nil)
        } catch {
            return (text, events, error as? ProviderError)
        }
    }

    /// The request body is written without an encoder: it must read back as the same JSON,
    /// whatever the messages hold.
    @Test func theRequestBodyIsTheJSONAnEncoderWouldWrite() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t cr \r nul \u{0} bell \u{7} unit \u{1F} é 🦜 \u{2028} </script>"
        var request = CompletionRequest(model: "m\"odel", messages: [ContextMessage(role: .system, content: "be brief"),
                                                                     ContextMessage(role: .user, content: tricky)])
        request.temperature = 0.7
        request.maxTokens = 64
        request.topP = 1e-05
        request.stop = ["\n\n", "END"]
        let body = OpenAICompatibleProvider.body(of: request)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["model"] as? String == "m\"odel")
        let messages = try #require(object["messages"] as? [[String: String]])
        #expect(messages == [["role": "system", "content": "be brief"], ["role": "user", "content": tricky]])
        #expect(object["stream"] as? Bool == true)
        #expect((object["stream_options"] as? [String: Bool])?["include_usage"] == true)
        #expect(object["temperature"] as? Double == 0.7 && object["max_tokens"] as? Int == 64 && object["top_p"] as? Double == 1e-05)
        #expect(object["stop"] as? [String] == ["\n\n", "END"])
        let bare = try #require(try JSONSerialization.jsonObject(with: Data(OpenAICompatibleProvider.body(of: CompletionRequest(model: "x", messages: [])))) as? [String: Any])
        #expect(Set(bare.keys) == ["model", "messages", "stream", "stream_options"])
    }

    @Test func streamsDeltasFinishAndUsage() async throws {
        try await withUpstream { base in
            let result = await drain(try provider(base, headers: [("X-Mock-Tokens", "6"), ("X-Mock-Delay-Ms", "5")]).complete(request))
            #expect(result.error == nil)
            #expect(result.text == "alpha beta gamma alpha beta gamma ")
            #expect(result.events.filter { if case .delta = $0 { true } else { false } }.count == 6)
            #expect(result.events.contains(.finished(reason: "stop")))
            #expect(result.events.last == .usage(TokenUsage(promptTokens: 5, completionTokens: 6)))
        }
    }

    @Test func retriesA500ThenSucceeds() async throws {
        try await withUpstream { base in
            let p = try provider(base, headers: [("X-Mock-Fail", "500"), ("X-Mock-Fail-Times", "2"), ("X-Mock-Scenario", UUID().uuidString),
                                             ("X-Mock-Tokens", "3"), ("X-Mock-Delay-Ms", "0")])
            let result = await drain(p.complete(request))
            #expect(result.error == nil)
            #expect(result.text == "alpha beta gamma ")
        }
    }

    @Test func honoursRetryAfterOn429() async throws {
        try await withUpstream { base in
            let p = try provider(base, headers: [("X-Mock-Fail", "429"), ("X-Mock-Fail-Times", "1"), ("X-Mock-Scenario", UUID().uuidString),
                                             ("X-Mock-Tokens", "2"), ("X-Mock-Delay-Ms", "0")])
            let started = ContinuousClock.now
            let result = await drain(p.complete(request))
            #expect(result.error == nil)
            #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After: 1 was not honoured")
        }
    }

    @Test func persistent500FailsWithTheUpstreamMessageAfterRetries() async throws {
        try await withUpstream { base in
            let result = await drain(try provider(base, headers: [("X-Mock-Fail", "500")]).complete(request))
            #expect(result.error == ProviderError(.failed, "the mock upstream failed as asked"))
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        try await withUpstream { base in
            let started = ContinuousClock.now
            let result = await drain(try provider(base, headers: [("X-Mock-Tokens", "-1")]) { $0.backoffBase = .seconds(30) }.complete(request))
            #expect(result.error?.kind == .rejected)
            // A retry would wait out the 30 s backoff; the bound leaves room for a busy machine.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func stallBeforeTheFirstTokenTimesOut() async throws {
        try await withUpstream { base in
            let p = try provider(base, headers: [("X-Mock-Fail", "stall")]) { $0.firstTokenTimeout = .milliseconds(300) }
            let started = ContinuousClock.now
            let result = await drain(p.complete(request))
            #expect(result.error?.kind == .timeout)
            // The stall lasts an hour; the bound leaves room for a busy machine.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// An upstream that takes the request and never sends even its response head is cut off
    /// by the first-token time, not waited on forever.
    @Test(.timeLimit(.minutes(1))) func stallBeforeTheResponseHeadTimesOut() async throws {
        try await withUpstream { base in
            let p = try provider(base, headers: [("X-Mock-Fail", "stall-head")]) { $0.firstTokenTimeout = .milliseconds(300) }
            let started = ContinuousClock.now
            let result = await drain(p.complete(request))
            #expect(result.error?.kind == .timeout)
            // The stall lasts an hour; the bound leaves room for a busy machine.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// A whole answer has a ceiling, however steadily its tokens come; what came is kept.
    @Test(.timeLimit(.minutes(1))) func anAnswerPastItsCeilingEndsAsATimeout() async throws {
        try await withUpstream { base in
            // 750 tokens 20 ms apart take 15 s; the ceiling cuts them at 3 s, however loaded the
            // machine (long enough for the first tokens to arrive while other suites run; with the
            // parallel suites on two cores the end has come almost 5 s after the ceiling).
            let p = try provider(base, headers: [("X-Mock-Tokens", "750"), ("X-Mock-Delay-Ms", "20")]) { $0.maxAnswerDuration = .seconds(3) }
            let started = ContinuousClock.now
            let result = await drain(p.complete(request))
            #expect(result.error?.kind == .timeout)
            #expect(!result.text.isEmpty, "the tokens before the ceiling were delivered")
            #expect(ContinuousClock.now - started < .seconds(12))
        }
    }

    /// A send from a task that is already cancelled never reaches the upstream.
    @Test func aCancelledCallerStartsNoTransfer() async throws {
        let requests = RequestCounter()
        var routes = RouterBuilder()
        routes.post("/count") { _ in
            requests.add()
            return Response(status: .noContent)
        }
        try await TestServer.with(responder: routes.build()) { server in
            let url = "http://127.0.0.1:\(server.port)/count"
            let outcome = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                do {
                    _ = try await Self.client.send(OutgoingRequest(url: url, method: "POST", headers: [], body: []))
                    return "sent"
                } catch let error as HTTPClientError {
                    return error.kind == .cancelled ? "cancelled" : "\(error)"
                } catch {
                    return "\(error)"
                }
            }.value
            #expect(outcome == "cancelled")
            try await Task.sleep(for: .milliseconds(200))
            #expect(requests.count == 0, "the upstream was asked")
        }
    }

    final class RequestCounter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    /// The watchdog sleeps until the deadline `check` gives; the deadline moves with activity.
    @Test func theWatchdogDeadlineFollowsTheStream() {
        let activity = Activity()
        let start = ContinuousClock.now
        guard case .onTime(let first) = activity.check(firstToken: .seconds(60), idle: .seconds(5), now: start) else {
            Issue.record("overdue at the start")
            return
        }
        #expect(first > start + .seconds(59) && first <= start + .seconds(61))
        #expect(activity.check(firstToken: .seconds(60), idle: .seconds(5), now: first) == .overdue("no first token within 60.0 seconds"))
        activity.firstToken()
        activity.touch()
        let touched = ContinuousClock.now
        guard case .onTime(let idle) = activity.check(firstToken: .seconds(60), idle: .seconds(5), now: touched) else {
            Issue.record("overdue right after a token")
            return
        }
        #expect(idle >= touched + .seconds(5) - .milliseconds(100) && idle <= touched + .seconds(5))
        #expect(activity.check(firstToken: .seconds(60), idle: .seconds(5), now: idle) == .overdue("no token for 5.0 seconds"))
    }

    @Test func dropMidStreamKeepsThePartialTextAndFails() async throws {
        try await withUpstream { base in
            let result = await drain(try provider(base, headers: [("X-Mock-Fail", "drop"), ("X-Mock-Tokens", "8"), ("X-Mock-Delay-Ms", "5")]).complete(request))
            #expect(result.error?.kind == .failed)
            #expect(result.text == "alpha beta gamma alpha ")
        }
    }

    @Test func unreachableUpstreamFailsAfterRetries() async throws {
        let closed = try ClosedPort()
        let result = await drain(try provider("http://127.0.0.1:\(closed.port)/v1").complete(request))
        #expect(result.error?.kind == .unreachable, "\(String(describing: result.error))")
        withExtendedLifetime(closed) {}
    }

    @Test func theAPIKeyNeverAppearsInAnError() async throws {
        var routes = RouterBuilder()
        routes.post("/v1/chat/completions") { r in
            Response(status: .unauthorized, contentType: "application/json",
                     body: Array("{\"error\":{\"message\":\"bad key \(r.headers["Authorization"] ?? "")\"}}".utf8))
        }
        try await TestServer.with(responder: routes.build()) { server in
            let result = await drain(try provider("http://127.0.0.1:\(server.port)/v1").complete(request))
            #expect(result.error?.kind == .rejected)
            #expect(result.error?.message.contains("sk-test-secret") == false)
            #expect(result.error?.message.contains("[redacted]") == true)
        }
    }

    @Test func mockProviderQuotesTheUserAndReportsUsage() async throws {
        let result = await drain(MockChatProvider(tokenDelay: .milliseconds(1)).complete(request))
        #expect(result.text == "This is parley's built-in mock model. You said: alpha beta gamma")
        #expect(result.events.contains(.finished(reason: "stop")))
        #expect(MockChatProvider().models.map(\.id) == ["mock"])
    }
}

@Suite(.timeLimit(.minutes(5))) struct ProviderRouterTests {
    @Test func routesByModelAndRefusesUnknownModels() async throws {
        let router = ProviderRouter([MockChatProvider(tokenDelay: .zero)])
        #expect(router.models == [ModelInfo(id: "mock", provider: "mock")])
        var text = ""
        for try await event in router.complete(CompletionRequest(model: "mock", messages: [ContextMessage(role: .user, content: "hi")])) {
            if case .delta(let d) = event { text += d }
        }
        #expect(text.hasSuffix("You said: hi"))
        await #expect(throws: ProviderError(.rejected, "model gpt-9 is not offered by this server")) {
            for try await _ in router.complete(CompletionRequest(model: "gpt-9", messages: [])) {}
        }
    }
}
