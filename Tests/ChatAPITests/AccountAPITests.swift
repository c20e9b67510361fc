import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServerTesting
import Security
import Storage
import StorageTesting
import Testing

/// Accounts end to end over HTTP, on SQLite and on PostgreSQL.
@Suite(.timeLimit(.minutes(5))) struct AccountAPITests {
    /// Two refreshes with one token at the same moment: one is a replay, so the family is
    /// revoked, and the token the other got must be revoked with it, every time.
    /// Changing the password needs the current one, ends every refresh token, and hands the
    /// caller new tokens; the new password signs in, the old one does not.
    @Test(arguments: TestBackend.available)
    func changingThePasswordEndsEveryOtherSignIn(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let first = try await api.register("ann@example.org")
            let token = try #require(first["access_token"]), oldRefresh = try #require(first["refresh_token"])
            let wrong = try await api.call("POST", "/v1/users/me/password", token: token,
                                           json: #"{"current_password":"not it","new_password":"a brand new secret"}"#)
            #expect(wrong.status == 422)
            #expect(wrong["detail"] == "current_password is not your password")
            let weak = try await api.call("POST", "/v1/users/me/password", token: token, json: #"{"current_password":"correct horse","new_password":"short"}"#)
            #expect(weak.status == 422)
            #expect(weak["detail"]?.hasPrefix("new_password") == true, "\(weak.text)")
            let changed = try await api.call("POST", "/v1/users/me/password", token: token,
                                             json: #"{"current_password":"correct horse","new_password":"a brand new secret"}"#)
            #expect(changed.status == 200, "\(changed.text)")
            let newRefresh = try #require(changed["refresh_token"])
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(oldRefresh)"}"#).status == 401, "the other sign-in ended")
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(newRefresh)"}"#).status == 200)
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#).status == 401)
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"a brand new secret"}"#).status == 200)
            let guest = try #require(try await api.call("POST", "/v1/auth/guest")["access_token"])
            #expect(try await api.call("POST", "/v1/users/me/password", token: guest,
                                       json: #"{"current_password":"x","new_password":"a brand new secret"}"#).status == 422, "a guest has no password")
        }
    }

    /// Deleting one's account takes the password and everything the account held; the last
    /// admin cannot go; a guest needs no password.
    @Test(arguments: TestBackend.available)
    func anAccountIsDeletedWithItsData(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            _ = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi mock:tokens=1 mock:delay=0"}"#)
            #expect(try await api.call("DELETE", "/v1/users/me", token: token).status == 422, "the password is required")
            #expect(try await api.call("DELETE", "/v1/users/me", token: token, json: #"{"password":"wrong one"}"#).status == 422)
            #expect(try await api.call("DELETE", "/v1/users/me", token: token, json: #"{"password":"correct horse"}"#).status == 204)
            #expect(try await api.database.query("SELECT id FROM chat_sessions", []).isEmpty, "its sessions went with it")
            #expect(try await api.database.query("SELECT id FROM messages", []).isEmpty)
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 401)
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#).status == 401)

            let guest = try #require(try await api.call("POST", "/v1/auth/guest")["access_token"])
            #expect(try await api.call("DELETE", "/v1/users/me", token: guest).status == 204)

            let admin = try await CreateUser(api.deps)(email: "root@example.org", password: "correct horse", role: .admin)
            #expect(admin.role == .admin)
            let adminToken = try #require(try await api.call("POST", "/v1/auth/login", json: #"{"email":"root@example.org","password":"correct horse"}"#)["access_token"])
            let last = try await api.call("DELETE", "/v1/users/me", token: adminToken, json: #"{"password":"correct horse"}"#)
            #expect(last.status == 409)
        }
    }

    /// A guest becomes an account and keeps its sessions; an e-mail already taken is a 409
    /// and changes nothing; an account is not upgraded again.
    @Test(arguments: TestBackend.available)
    func aGuestBecomesAnAccountKeepingItsSessions(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            _ = try await api.register("taken@example.org")
            let guest = try #require(try await api.call("POST", "/v1/auth/guest")["access_token"])
            let session = try await api.newSession(guest)
            let taken = try await api.call("POST", "/v1/auth/upgrade", token: guest, json: #"{"email":"taken@example.org","password":"correct horse"}"#)
            #expect(taken.status == 409)
            #expect(try await api.call("GET", "/v1/users/me", token: guest)["role"] == "guest", "nothing changed")
            let weak = try await api.call("POST", "/v1/auth/upgrade", token: guest, json: #"{"email":"new@example.org","password":"short"}"#)
            #expect(weak.status == 422)
            let upgraded = try await api.call("POST", "/v1/auth/upgrade", token: guest, json: #"{"email":"new@example.org","password":"correct horse"}"#)
            #expect(upgraded.status == 200, "\(upgraded.text)")
            let token = try #require(upgraded["access_token"])
            let me = try await api.call("GET", "/v1/users/me", token: token)
            #expect(me["role"] == "user")
            #expect(me["email"] == "new@example.org")
            #expect(me.json["expires_at"] is JSONNull, "no longer expires")
            #expect(try await api.call("GET", "/v1/sessions/\(session)", token: token).status == 200, "its sessions are kept")
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"new@example.org","password":"correct horse"}"#).status == 200)
            let again = try await api.call("POST", "/v1/auth/upgrade", token: token, json: #"{"email":"other@example.org","password":"correct horse"}"#)
            #expect(again.status == 403)
        }
    }

    /// An admin finds users by e-mail and sets a forgotten password, which ends the user's
    /// sign-ins; nobody else may.
    @Test(arguments: TestBackend.available)
    func anAdminSearchesUsersAndResetsAPassword(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            _ = try await CreateUser(api.deps)(email: "root@example.org", password: "root password", role: .admin)
            let admin = try #require(try await api.call("POST", "/v1/auth/login", json: #"{"email":"root@example.org","password":"root password"}"#)["access_token"])
            let ann = try await api.register("ann.smith@example.org")
            _ = try await api.register("bob@example.org")
            let annID = try #require(ann.user["id"] as? String), annRefresh = try #require(ann["refresh_token"])
            let found = try await api.call("GET", "/v1/admin/users?email=SMITH", token: admin)
            #expect(found.items.map { $0["email"] as? String } == ["ann.smith@example.org"])
            #expect(try await api.call("GET", "/v1/admin/users?email=_", token: admin).items.isEmpty, "_ is a character, not a wildcard")
            #expect(try await api.call("GET", "/v1/admin/users", token: admin).items.count == 3)
            let reset = try await api.call("POST", "/v1/admin/users/\(annID)/password", token: admin, json: #"{"password":"a new secret"}"#)
            #expect(reset.status == 204)
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(annRefresh)"}"#).status == 401, "her sign-ins ended")
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann.smith@example.org","password":"a new secret"}"#).status == 200)
            #expect(try await api.call("POST", "/v1/admin/users/\(annID)/password", token: admin, json: #"{"password":"short"}"#).status == 422)
            let annToken = try #require(ann["access_token"])
            #expect(try await api.call("POST", "/v1/admin/users/\(annID)/password", token: annToken, json: #"{"password":"mine now!"}"#).status == 403)
            #expect(try await api.call("POST", "/v1/admin/users/\(UUID().uuidString)/password", token: admin, json: #"{"password":"a new secret"}"#).status == 404)
        }
    }

    /// The web page's sign-in: the refresh token only in an HttpOnly, SameSite=Strict cookie
    /// limited to the auth routes, never in a body the page's script could read; refresh and
    /// logout take the cookie in place of the body field.
    @Test func theRefreshTokenCanTravelInAnHttpOnlyCookie() async throws {
        try await APIHarness.with(.sqlite) { api in
            let asked = [("X-Parley-Refresh", "cookie")]
            let registered = try await api.call("POST", "/v1/auth/register", json: #"{"email":"ann@example.org","password":"correct horse"}"#,
                                                headers: asked)
            #expect(registered.status == 201)
            #expect(registered.json["refresh_token"] == nil, "not in the body")
            #expect(registered["access_token"] != nil)
            let setCookie = try #require(registered.headers["set-cookie"])
            #expect(setCookie.hasPrefix("parley_refresh="))
            for attribute in ["Path=/v1/auth", "HttpOnly", "SameSite=Strict", "Max-Age=2592000"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
            #expect(!setCookie.contains("Secure"), "plain HTTP from an untrusted peer")
            let first = try #require(setCookie.split(separator: ";").first.map(String.init))

            let refreshed = try await api.call("POST", "/v1/auth/refresh", headers: asked + [("Cookie", first)])
            #expect(refreshed.status == 200, "\(refreshed.text)")
            #expect(refreshed.json["refresh_token"] == nil)
            let second = try #require(refreshed.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            #expect(second != first, "rotated")
            // The old cookie again is a replay: refused, and the family ends.
            #expect(try await api.call("POST", "/v1/auth/refresh", headers: asked + [("Cookie", first)]).status == 401)
            #expect(try await api.call("POST", "/v1/auth/refresh", headers: asked + [("Cookie", second)]).status == 401)

            let login = try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#, headers: asked)
            let cookie = try #require(login.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            let token = try #require(login["access_token"])
            #expect(try await api.call("POST", "/v1/auth/refresh").status == 422, "neither body nor cookie")
            let out = try await api.call("POST", "/v1/auth/logout", token: token, headers: [("Cookie", "other=1; " + cookie)])
            #expect(out.status == 204)
            #expect(out.headers["set-cookie"]?.contains("Max-Age=0") == true, "the cookie is cleared")
            #expect(try await api.call("POST", "/v1/auth/refresh", headers: [("Cookie", cookie)]).status == 401)
            let wrong = try await api.call("POST", "/v1/auth/guest", headers: [("X-Parley-Refresh", "body")])
            #expect(wrong.status == 422)
            #expect(wrong["detail"] == "X-Parley-Refresh must be cookie, or absent")
            // Without asking, the body carries the token, as API clients expect.
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#)["refresh_token"] != nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func simultaneousRefreshesLeaveNoLiveSuccessor(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            for round in 0..<30 {
                let refresh = try #require(try await api.register("pair\(round)@example.org")["refresh_token"])
                async let first = api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
                async let second = api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
                let replies = try await [first, second]
                #expect(replies.filter { $0.status == 200 }.count <= 1, "round \(round)")
                for survivor in replies.compactMap({ $0["refresh_token"] }) {
                    let again = try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(survivor)"}"#)
                    #expect(again.status == 401, "round \(round): a successor outlived its family's revocation")
                }
            }
        }
    }

    /// Two admins disabling each other at the same moment: one change wins, the other is
    /// refused as the last admin, and an active admin always remains.
    @Test(arguments: TestBackend.available)
    func adminsDisablingEachOtherAtOnceLeaveAnAdmin(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            for round in 0..<20 {
                var admins: [(id: String, token: String)] = []
                for name in ["a", "b"] {
                    let user = try await CreateUser(api.deps)(email: "\(name)\(round)@example.org", password: "root password", role: .admin)
                    let login = try await api.call("POST", "/v1/auth/login", json: #"{"email":"\#(name)\#(round)@example.org","password":"root password"}"#)
                    admins.append((user.id.description, try #require(login["access_token"])))
                }
                // Every earlier round's admins step down first, so these two are the only ones.
                let others = try await api.database.query("SELECT id FROM users WHERE role = 'admin' AND active = $3 AND id NOT IN ($1, $2)",
                                                          [.text(admins[0].id), .text(admins[1].id), .bool(true)])
                for other in others {
                    _ = try await api.database.execute("UPDATE users SET active = $2 WHERE id = $1", [.text(other["id"] ?? ""), .bool(false)])
                }
                let (a, b) = (admins[0], admins[1])
                async let first = api.call("PATCH", "/v1/admin/users/\(b.id)", token: a.token, json: #"{"active":false}"#)
                async let second = api.call("PATCH", "/v1/admin/users/\(a.id)", token: b.token, json: #"{"active":false}"#)
                let statuses = try await [first, second].map(\.status).sorted()
                #expect(statuses.contains(409) || statuses.contains(403), "round \(round): \(statuses)")
                let left = try await api.database.query("SELECT id FROM users WHERE role = 'admin' AND active = $1", [.bool(true)])
                #expect(left.count == 1, "round \(round): \(left.count) active admins left")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func wholeAccountLifecycle(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let registered = try await api.register("Ann@Example.org")
            #expect(registered.status == 201)
            #expect(registered["token_type"] == "Bearer")
            #expect(registered.json["expires_in"] as? Int == 900)
            #expect(registered.user["email"] as? String == "ann@example.org")
            let access = try #require(registered["access_token"]), refresh = try #require(registered["refresh_token"])

            let me = try await api.call("GET", "/v1/users/me", token: access)
            #expect(me.status == 200)
            #expect(me["role"] == "user")

            #expect(try await api.register("ann@example.org").status == 409)

            let login = try await api.call("POST", "/v1/auth/login", json: #"{"email":"ANN@example.org","password":"correct horse"}"#)
            #expect(login.status == 200)

            let rotated = try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
            #expect(rotated.status == 200)
            let newest = try #require(rotated["refresh_token"])
            #expect(newest != refresh)

            // Replaying the spent token revokes the whole family, the newest token included.
            let replay = try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
            #expect(replay.status == 401)
            #expect(replay["code"] == "refresh_token_reused")
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(newest)"}"#).status == 401)

            // Another user cannot sign Ann out with her refresh token, nor learn it is valid.
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let foreign = try await api.call("POST", "/v1/auth/logout", token: bob, json: #"{"refresh_token":"\#(try #require(login["refresh_token"]))"}"#)
            #expect(foreign.status == 401)
            #expect(foreign["detail"] == "the refresh token is not valid")

            // Logging out ends that session's family; another session (from the login) lives on.
            let second = try #require(login["refresh_token"])
            let loginAccess = try #require(login["access_token"])
            #expect(try await api.call("POST", "/v1/auth/logout", token: loginAccess, json: #"{"refresh_token":"\#(second)"}"#).status == 204)
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(second)"}"#).status == 401)
        }
    }

    @Test(arguments: TestBackend.available)
    func unknownEmailAndWrongPasswordAnswerTheSame(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            _ = try await api.register("ann@example.org")
            let wrong = try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"not the password"}"#)
            let unknown = try await api.call("POST", "/v1/auth/login", json: #"{"email":"nobody@example.org","password":"not the password"}"#)
            #expect(wrong.status == 401 && unknown.status == 401)
            #expect(wrong.text == unknown.text)
            #expect(wrong.headers["www-authenticate"] == "Bearer realm=\"parley\"")
        }
    }

    @Test(arguments: TestBackend.available)
    func tamperedAndExpiredTokensAreRefused(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let access = try #require(try await api.register("ann@example.org")["access_token"])
            let parts = access.split(separator: ".").map(String.init)
            let b64 = { (s: String) in Base64URL.encode(Array(s.utf8)) }
            let header = String(decoding: Base64URL.decode(Substring(parts[0])) ?? [], as: UTF8.self)
            let forged = [
                "bad signature": parts[0] + "." + parts[1] + "." + String(parts[2].reversed()),
                "alg none": b64(header.replacingOccurrences(of: "HS256", with: "none")) + "." + parts[1] + ".",
                "alg HS512": b64(header.replacingOccurrences(of: "HS256", with: "HS512")) + "." + parts[1] + "." + parts[2],
                "wrong kid": b64(header.replacingOccurrences(of: "\"kid\":\"", with: "\"kid\":\"x")) + "." + parts[1] + "." + parts[2],
                "truncated": String(access.dropLast(10)),
                "garbage": "not-a-token",
            ]
            for (name, token) in forged {
                let reply = try await api.call("GET", "/v1/users/me", token: token)
                #expect(reply.status == 401, "\(name)")
                #expect(reply.headers["www-authenticate"]?.contains("invalid_token") == true, "\(name)")
            }
            #expect(try await api.call("GET", "/v1/users/me").status == 401)
            #expect(try await api.call("GET", "/v1/users/me", token: access).status == 200)
            api.clock.advance(.seconds(16 * 60))
            let expired = try await api.call("GET", "/v1/users/me", token: access)
            #expect(expired.status == 401)
            #expect(expired["detail"] == "the access token has expired")
        }
    }

    @Test(arguments: TestBackend.available)
    func apiKeysCreateUseRevokeAndExpire(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let access = try #require(try await api.register("ann@example.org")["access_token"])
            let created = try await api.call("POST", "/v1/api-keys", token: access, json: #"{"name":"laptop script","expires_in_days":1}"#)
            #expect(created.status == 201)
            let key = try #require(created["key"])
            #expect(key.hasPrefix("pk_"))
            let listed = try await api.call("GET", "/v1/api-keys", token: access)
            #expect(listed.items.count == 1)
            #expect(listed.items.first?["key"] == nil)
            #expect(listed.items.first?["prefix"] as? String == String(key.prefix(11)))
            #expect(try await api.call("GET", "/v1/users/me", token: key).status == 200)

            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let id = try #require(created["id"])
            #expect(try await api.call("DELETE", "/v1/api-keys/\(id)", token: bob).status == 404)

            api.clock.advance(.seconds(86_401))
            #expect(try await api.call("GET", "/v1/users/me", token: key)["detail"] == "the API key has expired")

            let freshAccess = try #require(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#)["access_token"])
            let second = try await api.call("POST", "/v1/api-keys", token: freshAccess, json: #"{"name":"ci"}"#)
            let secondKey = try #require(second["key"]), secondID = try #require(second["id"])
            #expect(try await api.call("DELETE", "/v1/api-keys/\(secondID)", token: freshAccess).status == 204)
            #expect(try await api.call("GET", "/v1/users/me", token: secondKey)["detail"] == "the API key was revoked")
        }
    }

    @Test(arguments: TestBackend.available)
    func adminRoutesAndLastAdmin(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let admin = try await CreateUser(api.deps)(email: "root@example.org", password: "root password", role: .admin)
            let adminToken = try #require(try await api.call("POST", "/v1/auth/login", json: #"{"email":"root@example.org","password":"root password"}"#)["access_token"])
            let ann = try await api.register("ann@example.org")
            let annToken = try #require(ann["access_token"]), annID = try #require(ann.user["id"] as? String)

            #expect(try await api.call("GET", "/v1/admin/users", token: annToken).status == 403)
            #expect(try await api.call("PATCH", "/v1/admin/users/\(annID)", token: annToken, json: #"{"role":"admin"}"#).status == 403)

            let page1 = try await api.call("GET", "/v1/admin/users?limit=1", token: adminToken)
            #expect(page1.items.count == 1)
            let cursor = try #require(page1["next_cursor"])
            let page2 = try await api.call("GET", "/v1/admin/users?limit=1&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")", token: adminToken)
            #expect(page2.items.count == 1)
            #expect(page2.json["next_cursor"] is JSONNull)
            #expect(try await api.call("GET", "/v1/admin/users?limit=0", token: adminToken).status == 422)

            let disabled = try await api.call("PATCH", "/v1/admin/users/\(annID)", token: adminToken, json: #"{"active":false}"#)
            #expect(disabled.status == 200)
            #expect(disabled.json["active"] as? Int == 0)
            #expect(try await api.call("GET", "/v1/users/me", token: annToken).status == 403)
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"correct horse"}"#).status == 403)

            let demote = try await api.call("PATCH", "/v1/admin/users/\(admin.id)", token: adminToken, json: #"{"role":"user"}"#)
            #expect(demote.status == 409)
            #expect(demote["code"] == "last_admin")
            #expect(try await api.call("PATCH", "/v1/admin/users/\(annID)", token: adminToken, json: #"{"role":"king"}"#).status == 422)
            #expect(try await api.call("PATCH", "/v1/admin/users/\(UUID())", token: adminToken, json: #"{"active":true}"#).status == 404)
            #expect(try await api.call("PATCH", "/v1/admin/users/not-a-uuid", token: adminToken, json: #"{"active":true}"#).status == 404)
        }
    }

    @Test(arguments: TestBackend.available)
    func guestsAreRealShortLivedUsers(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let guest = try await api.call("POST", "/v1/auth/guest")
            #expect(guest.status == 201)
            #expect(guest.user["role"] as? String == "guest")
            let token = try #require(guest["access_token"])
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"x"}"#).status == 403)
        }
    }

    /// SQL metacharacters and 10,000-character values in every field: always a clear 4xx or a
    /// correct result, never a 500, and the database intact afterwards.
    @Test(arguments: TestBackend.available)
    func hostileValuesInEveryField(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let long = String(repeating: "x", count: 10_000)
            let nasty = #"'; DROP TABLE users; --"#
            for body in [
                #"{"email":"\#(long)@example.org","password":"correct horse"}"#,
                #"{"email":"a@example.org","password":"\#(long)"}"#,
                #"{"email":"\#(nasty)","password":"correct horse"}"#,
            ] {
                let reply = try await api.call("POST", "/v1/auth/register", json: body)
                #expect(reply.status == 422, "\(reply.text.prefix(200))")
            }
            let quoted = try await api.register("o'brien+\(nasty.filter { $0.isLetter })@example.org", nasty + "pw")
            #expect(quoted.status == 201)
            let login = try await api.call("POST", "/v1/auth/login", json: #"{"email":"\#(long)","password":"\#(nasty)"}"#)
            #expect(login.status == 401)
            // Both fields at 10,000 characters pass the 16 KiB limit of the auth routes: refused unread.
            #expect(try await api.call("POST", "/v1/auth/login", json: #"{"email":"\#(long)","password":"\#(long)"}"#).status == 413)
            #expect(try await api.call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(nasty)\#(long)"}"#).status == 401)
            let token = try #require(quoted["access_token"])
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"\#(nasty)"}"#).status == 201)
            #expect(try await api.call("POST", "/v1/api-keys", token: token, json: #"{"name":"\#(long)"}"#).status == 422)
            #expect(try await api.call("GET", "/v1/users/me", token: token).status == 200)
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentRegistrationOfOneEmailHasOneWinner(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await api.register("race@example.org").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 9)
        }
    }
}
