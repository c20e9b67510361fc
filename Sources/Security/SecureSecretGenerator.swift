public import ChatCore

/// Refresh tokens and API keys: 256 random bits, base64url, behind a readable prefix.
/// Stored as SHA-256 hex: the secrets are random and long, so a plain hash is enough
/// (no salt or slow hash needed, unlike passwords).
public struct SecureSecretGenerator: SecretGenerator {
    public init() {}

    public func newSecret(prefix: String) -> String {
        prefix + Base64URL.encode(Crypto.randomBytes(32))
    }

    public func digest(_ secret: String) -> String {
        Crypto.hex(Crypto.sha256(Array(secret.utf8)))
    }
}
