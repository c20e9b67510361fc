import HTTPClient
import ChatAPI
import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServer
import HTTPServerTesting
import LLMProviders
import Coordination
import Storage
import StorageTesting
import Testing

/// Limits as clients meet them: headers on every limited answer, 429 naming the tier with
/// `Retry-After`, `GET /v1/usage`.
@Suite(.timeLimit(.minutes(5))) struct RateLimitAPITests {
    static let policy = RatePolicy(
        user: RateLimits(perMinute: 3, daily: 100, dailyTokens: nil, concurrentStreams: 1),
        guest: RateLimits(perMinute: 1, daily: 2, dailyTokens: nil, concurrentStreams: 1),
        authPerMinute: 4, serverStreams: nil
    )

    @Test func perMinuteLimitAnswers429WithTheTierAndHeaders() async throws {
        try await APIHarness.with(.sqlite, policy: Self.policy) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let path = "/v1/sessions/\(session)/messages"
            let first = try await api.call("POST", path, token: token, json: #"{"content":"one mock:tokens=1 mock:delay=0"}"#)
            #expect(first.status == 200)
            #expect(first.headers["x-ratelimit-limit"] == "3")
            #expect(first.headers["x-ratelimit-remaining"] == "2")
            #expect(first.headers["x-ratelimit-reset"] == "60")

            var stream = try await api.stream("POST", path, token: token, json: #"{"content":"two mock:tokens=1 mock:delay=0"}"#)
            #expect(stream.headers["x-ratelimit-remaining"] == "1", "SSE answers carry the headers too")
            _ = try await stream.rest()
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"three mock:tokens=1 mock:delay=0"}"#).status == 200)

            api.clock.advance(.seconds(15))
            let refused = try await api.call("POST", path, token: token, json: #"{"content":"four"}"#)
            #expect(refused.status == 429)
            #expect(refused["code"] == "rate_limited")
            #expect(refused["tier"] == "per_minute")
            #expect(refused.headers["retry-after"] == "45")
            #expect(refused.headers["x-ratelimit-remaining"] == "0")
            #expect(refused["detail"] == "at most 3 messages a minute; retry in 45 s")
            #expect(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.count == 6, "nothing stored for the refused send")

            let usage = try await api.call("GET", "/v1/usage", token: token)
            #expect(usage["role"] == "user")
            let tiers = try #require(usage.json["tiers"] as? [[String: any Sendable]])
            #expect(tiers.map { $0["tier"] as? String } == ["per_minute", "daily", "concurrent_streams"])
            #expect(tiers.map { $0["used"] as? Int } == [3, 3, 0])
            #expect(tiers.map { $0["remaining"] as? Int } == [0, 97, 1])

            api.clock.advance(.seconds(46))
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"five mock:tokens=1 mock:delay=0"}"#).status == 200)
        }
    }

    /// The route counts a message before the send runs and gives it back when the send is
    /// refused: a send refused for the stream cap, or because another instance's answer runs
    /// in the session, costs nothing; a retry with the same `Idempotency-Key` is answered with
    /// the first send's turn even at the limit, and is not counted again.
    @Test(arguments: TestBackend.available)
    func refusedSendsAndRetriesCostNoMessage(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend, policy: Self.policy) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let first = try await api.newSession(token), second = try await api.newSession(token)
            func perMinuteUsed() async throws -> Int? {
                let tiers = try #require(try await api.call("GET", "/v1/usage", token: token).json["tiers"] as? [[String: any Sendable]])
                return tiers.first { $0["tier"] as? String == "per_minute" }?["used"] as? Int
            }
            // Refused for the stream cap while the first answer runs.
            var stream = try await api.stream("POST", "/v1/sessions/\(first)/messages", token: token,
                                              json: #"{"content":"long mock:tokens=30 mock:delay=10"}"#)
            _ = try await stream.next()
            #expect(try await api.call("POST", "/v1/sessions/\(second)/messages", token: token, json: #"{"content":"hi"}"#)["tier"] == "concurrent_streams")
            _ = try await stream.rest()
            #expect(try await perMinuteUsed() == 1)
            // Refused because an answer another instance runs holds the session (the database's
            // one-answer-per-session index says so).
            let messages = api.turns.chat.messages, now = api.clock.now()
            let sessionID = try #require(ChatSession.ID(second))
            let elsewhere = try await messages.append(Message(id: Message.ID(UUID()), sessionID: sessionID, role: .assistant, content: "",
                                                              status: .streaming, createdAt: now, updatedAt: now))
            try await messages.renewLease(of: elsewhere.id, until: now.addingTimeInterval(60))
            #expect(try await api.call("POST", "/v1/sessions/\(second)/messages", token: token, json: #"{"content":"hi"}"#).status == 409)
            #expect(try await perMinuteUsed() == 1)
            // Two more sends reach the limit of three; a retry of the last is still answered.
            let retried = #"{"content":"again mock:tokens=2 mock:delay=0"}"#
            #expect(try await api.call("POST", "/v1/sessions/\(first)/messages", token: token, json: #"{"content":"x mock:tokens=1 mock:delay=0"}"#).status == 200)
            let sent = try await api.call("POST", "/v1/sessions/\(first)/messages", token: token, json: retried, headers: [("Idempotency-Key", "k-1")])
            #expect(sent.status == 200)
            #expect(try await perMinuteUsed() == 3)
            let again = try await api.call("POST", "/v1/sessions/\(first)/messages", token: token, json: retried, headers: [("Idempotency-Key", "k-1")])
            #expect(again.status == 200, "a retry at the limit gets its answer")
            let sentID = try #require((sent.json["message"] as? [String: any Sendable])?["id"] as? String)
            #expect((again.json["message"] as? [String: any Sendable])?["id"] as? String == sentID, "the first send's answer")
            #expect(try await perMinuteUsed() == 3)
            #expect(try await api.call("POST", "/v1/sessions/\(first)/messages", token: token, json: #"{"content":"new"}"#).status == 429)
        }
    }

    /// One stream at a time: a second send is refused while the first answer runs, and the
    /// place is free again once it ends, even though its client left long before.
    @Test func concurrentStreamCapIsReleasedWhenTheAnswerEnds() async throws {
        try await APIHarness.with(.sqlite, policy: Self.policy) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let first = try await api.newSession(token), second = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(first)/messages", token: token,
                                              json: #"{"content":"long mock:tokens=30 mock:delay=10"}"#)
            _ = try await stream.next()
            _ = consume stream  // the client leaves; the answer goes on
            let refused = try await api.call("POST", "/v1/sessions/\(second)/messages", token: token, json: #"{"content":"hi"}"#)
            #expect(refused.status == 429)
            #expect(refused["tier"] == "concurrent_streams")
            let turns = api.turns
            #expect(await eventually(timeout: .seconds(5)) { turns.registry.running.isEmpty })
            #expect(try await api.call("POST", "/v1/sessions/\(second)/messages", token: token, json: #"{"content":"hi mock:tokens=1"}"#).status == 200)
        }
    }

    /// Guests get the lower limits; admins none.
    @Test func rolesHaveTheirOwnLimits() async throws {
        try await APIHarness.with(.sqlite, policy: Self.policy) { api in
            let guest = try #require(try await api.call("POST", "/v1/auth/guest")["access_token"])
            let session = try await api.newSession(guest)
            #expect(try await api.call("POST", "/v1/sessions/\(session)/messages", token: guest, json: #"{"content":"a mock:tokens=1"}"#).status == 200)
            let refused = try await api.call("POST", "/v1/sessions/\(session)/messages", token: guest, json: #"{"content":"b"}"#)
            #expect(refused["tier"] == "per_minute")
            #expect(refused["detail"] == "at most 1 messages a minute; retry in 60 s")
            #expect(try await api.call("GET", "/v1/usage", token: guest)["role"] == "guest")
        }
    }

    /// Sign-in attempts per client address: the fifth within a minute is refused.
    @Test func authAttemptsAreLimitedPerClient() async throws {
        try await APIHarness.with(.sqlite, policy: Self.policy) { api in
            for i in 0..<4 {
                let reply = try await api.call("POST", "/v1/auth/login", json: #"{"email":"nobody\#(i)@example.org","password":"wrong password"}"#)
                #expect(reply.status == 401)
                #expect(reply.headers["x-ratelimit-remaining"] == nil || reply.headers["x-ratelimit-remaining"] == String(3 - i))
            }
            let refused = try await api.call("POST", "/v1/auth/register", json: #"{"email":"ann@example.org","password":"correct horse"}"#)
            #expect(refused.status == 429)
            #expect(refused["tier"] == "auth_ip")
            #expect(refused.headers["retry-after"] == "60")
            api.clock.advance(.seconds(61))
            #expect(try await api.call("POST", "/v1/auth/register", json: #"{"email":"ann@example.org","password":"correct horse"}"#).status == 201)
        }
    }

    /// With the response cache on, an identical request is answered from it: streamed the
    /// same, marked `cached`, recorded, and the upstream is not asked again.
    @Test func identicalRequestIsAnsweredFromTheCache() async throws {
        try await APIHarness.with(.sqlite, cacheTTL: .seconds(60)) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let first = try await api.newSession(token), second = try await api.newSession(token)
            let asked = try await api.send("What is parley? mock:tokens=6 mock:delay=1", session: first, token: token)
            #expect(asked.last?.json["cached"] == nil)
            let upstreamAnswers = api.upstream.responseCount
            let again = try await api.send("What is parley? mock:tokens=6 mock:delay=1", session: second, token: token)
            #expect(again.last?.event == "done")
            #expect(again.last?.json["cached"] as? Bool == true)
            #expect(again.compactMap(\.delta).joined() == asked.compactMap(\.delta).joined())
            #expect(api.upstream.responseCount == upstreamAnswers, "the upstream was not asked")
            #expect(try await api.database.query("SELECT id FROM usage_events", []).count == 2)
            // Another user's identical request is not a hit: the cache is per user.
            let other = try #require(try await api.register("bob@example.org")["access_token"])
            let theirs = try await api.send("What is parley? mock:tokens=6 mock:delay=1", session: try await api.newSession(other), token: other)
            #expect(theirs.last?.event == "done")
            #expect(theirs.last?.json["cached"] == nil, "another user's answer was served from the cache")
            #expect(api.upstream.responseCount == upstreamAnswers + 1)
            // Another context (the first session now has history) is not a hit.
            let followUp = try await api.send("What is parley? mock:tokens=6 mock:delay=1", session: first, token: token)
            #expect(followUp.last?.json["cached"] == nil)
        }
    }

    /// `X-Forwarded-For` counts only from a trusted proxy.
    @Test func clientAddressTrustsOnlyConfiguredProxies() throws {
        let clients = ClientAddressFixture.clients
        func request(from peer: String, forwardedFor: String?) -> Request {
            var headers = HTTPFields()
            if let forwardedFor { headers.add("X-Forwarded-For", forwardedFor) }
            return Request(method: .post, target: "/v1/auth/login", headers: headers, remoteAddress: peer)
        }
        #expect(clients.resolve(request(from: "203.0.113.9", forwardedFor: "1.2.3.4")) == "203.0.113.9", "an untrusted peer's header is ignored")
        #expect(clients.resolve(request(from: "10.1.2.3", forwardedFor: "1.2.3.4")) == "1.2.3.4")
        #expect(clients.resolve(request(from: "10.1.2.3", forwardedFor: "6.6.6.6, 1.2.3.4, 10.9.9.9")) == "1.2.3.4", "the nearest untrusted hop")
        #expect(clients.resolve(request(from: "::1", forwardedFor: "2001:db8::7")) == "2001:db8::7")
        #expect(clients.resolve(request(from: "10.1.2.3", forwardedFor: "not-an-ip")) == "10.1.2.3")
        // A proxy that adds its own field line: every line counts, in order, so the client's
        // forged line cannot stand as the only one read.
        var twoLines = HTTPFields()
        twoLines.add("X-Forwarded-For", "6.6.6.6")
        twoLines.add("X-Forwarded-For", "198.51.100.4")
        #expect(clients.resolve(Request(method: .get, target: "/", headers: twoLines, remoteAddress: "10.1.2.3")) == "198.51.100.4")
        #expect(ClientAddress.Network("10.0.0.0/33") == nil)
        #expect(ClientAddress.Network("example.org") == nil)
    }
}

extension RateLimitAPITests {
    /// IPv6 clients are limited by their /64: stepping through one's own prefix buys nothing.
    @Test func perClientLimitsKeyIPv6ByItsSlash64() {
        #expect(ClientAddress.limitKey("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(ClientAddress.limitKey("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64")
        #expect(ClientAddress.limitKey("2001:db8:1:3::1") == "2001:db8:1:3::/64")
        #expect(ClientAddress.limitKey("203.0.113.9") == "203.0.113.9")
        #expect(ClientAddress.limitKey("unknown") == "unknown")
    }
}

enum ClientAddressFixture {
    static let clients = ClientAddress(trusted: ["10.0.0.0/8", "::1"].compactMap(ClientAddress.Network.init))
}

/// The sign-in limit as a client sees it: two addresses of one IPv6 /64 share one allowance.
@Suite(.timeLimit(.minutes(5))) struct AuthRateLimitKeyTests {
    @Test func addressesOfOneSlash64ShareTheSignInLimit() async throws {
        var routes = RouterBuilder()
        var policy = RatePolicy.unlimited
        policy.authPerMinute = 2
        let limits = RouteLimits(limiter: InProcessRateLimiter(), policy: policy, writesPerMinute: nil, clients: ClientAddress())
        routes.errorRenderer = { error in
            if case DomainError.rateLimited = error { return Response(status: HTTPStatus(code: 429, reason: "Too Many Requests")) }
            return nil
        }
        routes.post("/v1/auth/login", bodyLimit: 1024, limit: limits.authAttempts) { _ in Response(status: .noContent) }
        let router = routes.build()
        func attempt(from address: String) async -> Int {
            await router.respond(to: Request(method: .post, target: "/v1/auth/login", remoteAddress: address)).status.code
        }
        #expect(await attempt(from: "2001:db8:5:6::1") == 204)
        #expect(await attempt(from: "2001:db8:5:6::2") == 204)
        #expect(await attempt(from: "2001:db8:5:6:ffff::3") == 429, "a third address of the same /64")
        #expect(await attempt(from: "2001:db8:5:7::1") == 204, "another /64")
    }
}
