import ChatAPI
import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServerTesting
import Security
import StorageTesting
import Testing

/// What one user can make the server spend or store is bounded: upstream tokens, creations a
/// minute, things kept, and password checks against one account.
@Suite(.timeLimit(.minutes(5))) struct AbuseLimitTests {
    /// `max_tokens` above `CHAT_MAX_OUTPUT_TOKENS` is refused naming the limit; without one the
    /// answer is capped there upstream.
    @Test func outputTokensAreCapped() async throws {
        try await APIHarness.with(.sqlite, settings: { $0.maxOutputTokens = 100 }) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token, model: "mock")
            let refused = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi","max_tokens":1000000}"#)
            #expect(refused.status == 422)
            #expect(refused["detail"] == "max_tokens must be a whole number from 1 to 100 (CHAT_MAX_OUTPUT_TOKENS)")
            #expect(try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi mock:tokens=2","max_tokens":100}"#).status == 200)
        }
    }

    /// A project keeps at most so many prompts and characters of them (they go upstream with
    /// every message of its sessions).
    @Test func projectPromptsAreCappedInNumberAndSize() async throws {
        var ownership = OwnershipLimits()
        ownership.promptsPerProject = 3
        ownership.promptCharactersPerProject = 100
        try await APIHarness.with(.sqlite, ownership: ownership) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let project = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#)["id"])
            let big = try await api.call("POST", "/v1/projects/\(project)/prompts", token: token, json: "{\"text\":\"\(String(repeating: "a", count: 101))\"}")
            #expect(big.status == 422)
            #expect(big["detail"] == "text would bring the project's prompts to 101 characters; at most 100 in all")
            for _ in 0..<3 {
                #expect(try await api.call("POST", "/v1/projects/\(project)/prompts", token: token, json: #"{"text":"short"}"#).status == 201)
            }
            let fourth = try await api.call("POST", "/v1/projects/\(project)/prompts", token: token, json: #"{"text":"short"}"#)
            #expect(fourth.status == 429)
            #expect(fourth["tier"] == "prompts")
            #expect(fourth["detail"] == "at most 3 prompts per project; delete some to make room")
        }
    }

    /// Creations a minute per user: past the limit 429 naming `writes`, free again a minute on.
    @Test func creationsAreLimitedPerMinute() async throws {
        try await APIHarness.with(.sqlite, writesPerMinute: 3) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token, model: "mock")
            #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#).status == 201)
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"k"}"#).status == 201)
            let refused = try await api.call("POST", "/v1/sessions", token: token)
            #expect(refused.status == 429)
            #expect(refused["tier"] == "writes")
            #expect(refused.headers["retry-after"] == "60")
            #expect(try await api.call("GET", "/v1/sessions/\(session)", token: token).status == 200, "reads are not writes")
            let other = try #require(try await api.register("bob@example.org")["access_token"])
            #expect(try await api.call("POST", "/v1/sessions", token: other).status == 201, "per user")
            api.clock.advance(.seconds(61))
            #expect(try await api.call("POST", "/v1/sessions", token: token).status == 201)
        }
    }

    /// A creation the server refuses (invalid, not found) created nothing, so it is given
    /// back: it does not use up the minute's allowance.
    @Test func refusedCreationsAreNotCounted() async throws {
        try await APIHarness.with(.sqlite, writesPerMinute: 2) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            for _ in 0..<3 {
                #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"description":"no name"}"#).status == 422)
                #expect(try await api.call("POST", "/v1/sessions", token: token, json: #"{"model":"no-such-model"}"#).status == 422)
            }
            #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#).status == 201)
            let created = try await api.call("POST", "/v1/sessions", token: token)
            #expect(created.status == 201)
            #expect(created.headers["x-ratelimit-remaining"] == "0", "two counted, the refused six given back")
            #expect(try await api.call("POST", "/v1/sessions", token: token).status == 429)
        }
    }

    /// An operator can close registration and guest access: a clear 403 each.
    @Test func registrationAndGuestAccessCanBeClosed() async throws {
        try await APIHarness.with(.sqlite, auth: { $0.registrationOpen = false; $0.guestAccess = false }) { api in
            let register = try await api.register("ann@example.org")
            #expect(register.status == 403)
            #expect(register["detail"] == "registration is closed on this server: an administrator creates accounts")
            let guest = try await api.call("POST", "/v1/auth/guest")
            #expect(guest.status == 403)
            #expect(guest["detail"] == "guest access is off on this server: sign in or register")
            _ = try await CreateUser(api.deps)(email: "bob@example.org", password: "correct horse", role: .user)
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"bob@example.org","password":"correct horse"}"#).status == 200,
                    "accounts an administrator made still sign in")
        }
    }

    /// One address cannot mint guests without end: a day's cap, 429 naming it; a guest refused
    /// for another reason costs nothing.
    @Test func guestsAreCappedPerClientAndDay() async throws {
        try await APIHarness.with(.sqlite, guestsPerClientPerDay: 3) { api in
            for _ in 0..<3 { #expect(try await api.call("POST", "/v1/auth/guest").status == 201) }
            let refused = try await api.call("POST", "/v1/auth/guest")
            #expect(refused.status == 429)
            #expect(refused["tier"] == "guests_per_client")
            #expect(refused.headers["retry-after"].flatMap(Int.init).map { $0 > 3600 } == true, "a day's window")
            #expect(try await api.call("POST", "/v1/auth/guest", headers: [("X-Parley-Refresh", "nonsense")]).status == 429)
            api.clock.advance(.seconds(86_401))
            for _ in 0..<2 { #expect(try await api.call("POST", "/v1/auth/guest").status == 201) }
            #expect(try await api.call("POST", "/v1/auth/guest", headers: [("X-Parley-Refresh", "nonsense")]).status == 422)
            #expect(try await api.call("POST", "/v1/auth/guest").status == 201, "the refused one was given back: this is the third")
            #expect(try await api.call("POST", "/v1/auth/guest").status == 429)
        }
    }

    /// What an account keeps is capped: sessions (forks count), projects, live API keys.
    @Test func whatAnAccountKeepsIsCapped() async throws {
        var ownership = OwnershipLimits()
        (ownership.sessionsPerUser, ownership.projectsPerUser, ownership.apiKeysPerUser) = (2, 1, 1)
        try await APIHarness.with(.sqlite, ownership: ownership) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token, model: "mock")
            _ = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi mock:tokens=1"}"#)
            let first = try #require(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.last?["id"] as? String)
            #expect(try await api.call("POST", "/v1/sessions/\(session)/fork", token: token, json: #"{"message_id":"\#(first)"}"#).status == 201)
            let fork = try await api.call("POST", "/v1/sessions/\(session)/fork", token: token, json: #"{"message_id":"\#(first)"}"#)
            #expect(fork.status == 429)
            #expect(fork["tier"] == "sessions")
            #expect(fork["code"] == "limit_reached")
            #expect(try await api.call("POST", "/v1/sessions", token: token).status == 429)
            #expect(try await api.call("DELETE", "/v1/sessions/\(session)", token: token).status == 204)
            #expect(try await api.call("POST", "/v1/sessions", token: token).status == 201, "deleting makes room")
            #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#).status == 201)
            #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"q"}"#)["tier"] == "projects")
            let key = try #require(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"k"}"#)["id"])
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"k2"}"#)["tier"] == "api_keys")
            #expect(try await api.call("DELETE", "/v1/api-keys/\(key)", token: token).status == 204)
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"k3"}"#).status == 201, "revoked keys do not count")
        }
    }

    /// After so many failed sign-ins an account takes no password, not even the right one,
    /// from any address, until the window moves on; an unknown e-mail is treated the same.
    @Test func failedSignInsLockTheAccountForAWhile() async throws {
        try await APIHarness.with(.sqlite, loginMaxFailures: 3) { api in
            _ = try await api.register("ann@example.org", "correct horse")
            for email in ["Ann@Example.org", "nobody@example.org"] {
                for _ in 0..<3 {
                    #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"\#(email)","password":"wrong password"}"#).status == 401)
                }
                let locked = try await api.call("POST", "/v1/auth/login", json: #"{"email":"\#(email)","password":"correct horse"}"#)
                #expect(locked.status == 429, "\(email)")
                #expect(locked["tier"] == "login_failures")
                #expect(locked.headers["retry-after"] == "900")
            }
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"bob@example.org","password":"correct horse"}"#).status == 401,
                    "other accounts are not locked")
            api.clock.advance(.seconds(901))
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#).status == 200)
        }
    }

    /// Checks for accounts with recent failures may fill only half of the hashing capacity:
    /// the rest stays for everyone else.
    @Test func suspectChecksGetOnlyAShareOfTheHasher() async throws {
        // Slow checks (20 passes), so the first two are surely still in the hasher, however
        // loaded the machine, when the third arrives.
        var slow = Argon2PasswordHasher.Parameters()
        slow.iterations = 20
        let hasher = Argon2PasswordHasher(parameters: slow, concurrency: 1, maxWaiting: 3)  // 4 at once; suspects 2
        let hash = try await hasher.hash("password")
        let results = try await withThrowingTaskGroup(of: (Bool, Bool).self) { group in
            for _ in 0..<2 {
                group.addTask { (true, (try? await hasher.verify("password", against: hash, suspect: true)) != nil) }
            }
            try await Task.sleep(for: .milliseconds(50))
            group.addTask { (true, (try? await hasher.verify("password", against: hash, suspect: true)) != nil) }
            group.addTask { (false, (try? await hasher.verify("password", against: hash, suspect: false)) != nil) }
            return try await group.reduce(into: [(Bool, Bool)]()) { $0.append($1) }
        }
        #expect(results.filter { $0.0 && $0.1 }.count == 2, "two suspect checks ran, the third was refused")
        let ordinary = results.filter { !$0.0 }.map(\.1)
        #expect(ordinary == [true], "the ordinary check was admitted")
    }
}
