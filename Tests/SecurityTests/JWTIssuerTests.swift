import ChatCore
import Foundation
import Security
import Testing

@Suite(.timeLimit(.minutes(5))) struct JWTIssuerTests {
    let secret = Array("a-test-secret-of-at-least-32-bytes!!".utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let user = User(id: User.ID(UUID()), email: nil, passwordHash: nil, role: .user, createdAt: Date(timeIntervalSince1970: 0))

    var issuer: JWTIssuer { JWTIssuer(secret: secret) }

    func segments(_ token: String) -> [String] { token.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
    func b64(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }
    func sign(_ input: String, key: [UInt8]) -> String { Base64URL.encode(Crypto.hmacSHA256(key: key, message: Array(input.utf8))) }

    @Test func roundTrip() throws {
        let token = try issuer.issue(for: user, now: now)
        let claims = try issuer.verify(token, now: now.addingTimeInterval(60))
        #expect(claims.userID == user.id)
        #expect(claims.role == .user)
        #expect(claims.expiresAt == now.addingTimeInterval(900))
    }

    /// Each row is a token an attacker could send, and the reason it must be refused.
    @Test func forgedAndBrokenTokensAreRefused() throws {
        let good = try issuer.issue(for: user, now: now)
        let parts = segments(good)
        let header = String(decoding: Base64URL.decode(Substring(parts[0])) ?? [], as: UTF8.self)
        let claims = String(decoding: Base64URL.decode(Substring(parts[1])) ?? [], as: UTF8.self)
        let kid = header.components(separatedBy: "\"kid\":\"")[1].prefix(12)
        let adminClaims = claims.replacingOccurrences(of: "\"role\":\"user\"", with: "\"role\":\"admin\"")
        let cases: [(String, String, String)] = [
            ("bad signature", parts[0] + "." + parts[1] + "." + sign(parts[0] + "." + parts[1], key: Array("wrong".utf8)), "signature"),
            ("tampered claims", parts[0] + "." + b64(adminClaims) + "." + parts[2], "signature"),
            ("alg none", b64("{\"alg\":\"none\",\"kid\":\"\(kid)\"}") + "." + parts[1] + ".", "algorithm"),
            ("alg none with signature", b64("{\"alg\":\"none\",\"kid\":\"\(kid)\"}") + "." + parts[1] + "." + parts[2], "algorithm"),
            ("alg HS512", b64("{\"alg\":\"HS512\",\"kid\":\"\(kid)\"}") + "." + parts[1] + "." + parts[2], "algorithm"),
            ("alg hs256 lower-case", b64("{\"alg\":\"hs256\",\"kid\":\"\(kid)\"}") + "." + parts[1] + "." + parts[2], "algorithm"),
            ("wrong kid", b64("{\"alg\":\"HS256\",\"kid\":\"000000000000\"}") + "." + parts[1] + "." + parts[2], "unknown key"),
            ("missing kid", b64("{\"alg\":\"HS256\"}") + "." + parts[1] + "." + parts[2], "unknown key"),
            ("truncated", String(good.dropLast(5)), "signature"),
            ("two segments", parts[0] + "." + parts[1], "malformed"),
            ("four segments", good + ".x", "malformed"),
            ("padding in base64", parts[0] + "=." + parts[1] + "." + parts[2], "malformed"),
            ("not base64", "!!!." + parts[1] + "." + parts[2], "malformed"),
            ("empty", "", "malformed"),
        ]
        for (name, token, reason) in cases {
            do {
                _ = try issuer.verify(token, now: now)
                Issue.record("\(name): accepted")
            } catch let DomainError.unauthenticated(message) {
                #expect(message.contains(reason), "\(name): \(message)")
            }
        }
    }

    @Test func expiryAndNotBeforeUseTheLeeway() throws {
        let token = try issuer.issue(for: user, now: now)
        _ = try issuer.verify(token, now: now.addingTimeInterval(900 + 29))
        #expect(throws: DomainError.unauthenticated("the access token has expired")) {
            try issuer.verify(token, now: now.addingTimeInterval(900 + 31))
        }
        _ = try issuer.verify(token, now: now.addingTimeInterval(-29))
        #expect(throws: DomainError.unauthenticated("the access token is not valid yet")) {
            try issuer.verify(token, now: now.addingTimeInterval(-31))
        }
    }

    /// A token verified once is known by its text: its times are still checked on every use,
    /// and a token that differs in any byte is verified in full.
    @Test func aVerifiedTokenIsCheckedAgainForItsTimesOnly() throws {
        let issuer = self.issuer
        let token = try issuer.issue(for: user, now: now)
        #expect(try issuer.verify(token, now: now).userID == user.id)
        #expect(try issuer.verify(token, now: now.addingTimeInterval(600)).userID == user.id)
        #expect(throws: DomainError.unauthenticated("the access token has expired")) {
            try issuer.verify(token, now: now.addingTimeInterval(900 + 31))
        }
        #expect(throws: DomainError.unauthenticated("the access token is not valid yet")) {
            try issuer.verify(token, now: now.addingTimeInterval(-31))
        }
        let parts = segments(token)
        let forged = parts[0] + "." + b64(#"{"exp":1900000000,"iat":1800000000,"nbf":1800000000,"role":"admin","sub":"\#(user.id)"}"#) + "." + parts[2]
        #expect(throws: DomainError.unauthenticated("the access token's signature is not valid")) {
            try issuer.verify(forged, now: now)
        }
    }

    @Test func rotatedSecretStillVerifiesOldTokens() throws {
        let old = try issuer.issue(for: user, now: now)
        let rotated = JWTIssuer(secret: Array("a-brand-new-secret-of-32-bytes-or-more".utf8), previousSecrets: [secret])
        #expect(try rotated.verify(old, now: now).userID == user.id)
        let dropped = JWTIssuer(secret: Array("a-brand-new-secret-of-32-bytes-or-more".utf8))
        #expect(throws: DomainError.self) { try dropped.verify(old, now: now) }
    }

    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Crypto.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}

@Suite(.timeLimit(.minutes(5))) struct PasswordAndSecretTests {
    @Test func argon2idHashesVerifyAndCarryOWASPParameters() async throws {
        let hasher = Argon2PasswordHasher()
        let hash = try await hasher.hash("correct horse battery")
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(try await hasher.verify("correct horse battery", against: hash))
        #expect(try await !hasher.verify("correct horse batterz", against: hash))
        #expect(try await hasher.hash("correct horse battery") != hash)  // salted
        #expect(try await !hasher.verify("x", against: "not a hash"))
    }

    @Test func floodBeyondTheQueueIsRefusedNotQueuedForever() async throws {
        var cheap = Argon2PasswordHasher.Parameters()
        cheap.memoryKiB = 64 * 1024
        let hasher = Argon2PasswordHasher(parameters: cheap, concurrency: 1, maxWaiting: 2)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { (try? await hasher.hash("password")) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count >= 3)
        #expect(outcomes.contains(false))
    }

    @Test func secretsAreUniqueAndDigestsStable() {
        let generator = SecureSecretGenerator()
        let a = generator.newSecret(prefix: "pk_"), b = generator.newSecret(prefix: "pk_")
        #expect(a != b)
        #expect(a.hasPrefix("pk_") && a.count == 3 + 43)
        #expect(generator.digest(a) == generator.digest(a))
        #expect(generator.digest(a).count == 64)
        #expect(generator.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
