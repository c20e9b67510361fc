/// Removes secrets from log text before it is written: every line passes through here.
///
/// Caught by shape: provider keys (`sk-…`), parley's API keys (`pk_…`) and refresh tokens
/// (`rt_…`), JWTs (`eyJ….….…`), the credential after `Bearer`/`Basic`, and the value of any
/// `password`, `authorization`, `cookie`, `token`, `secret` or `api_key` field written as JSON or
/// `key=value`, the password of a URL (`postgres://user:…@`). Caught by value: the secrets this process was configured with (provider keys,
/// JWT secrets), wherever they appear. Each pattern runs only when a cheap substring test
/// says it could match, so ordinary lines cost a few scans.
struct Redactor: Sendable {
    private let configured: [String]

    init(secrets: [String]) {
        // Short values would blank out ordinary words.
        configured = secrets.filter { $0.count >= 8 }.sorted { $0.count > $1.count }
    }

    func redact(_ text: String) -> String {
        var out = text
        for secret in configured where out.contains(secret) { out = out.replacing(secret, with: "[redacted]") }
        if out.contains("sk-") { out = out.replacing(#/sk-[A-Za-z0-9_\-]{8,}/#, with: "sk-[redacted]") }
        if out.contains("pk_") || out.contains("rt_") { out = out.replacing(#/(?:pk|rt)_[A-Za-z0-9_\-]{16,}/#, with: "[redacted]") }
        if out.contains("eyJ") { out = out.replacing(#/eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*/#, with: "[redacted-jwt]") }
        if out.contains("://") { out = out.replacing(#/://([^:/@\s]*):[^@\s]+@/#) { "://\($0.output.1):[redacted]@" } }
        let lower = out.lowercased()
        if lower.contains("bearer") || lower.contains("basic") {
            out = out.replacing(#/(?i)\b(bearer|basic)\s+[^\s",;\\]+/#) { "\($0.output.1) [redacted]" }
        }
        if Self.fieldWords.contains(where: { lower.contains($0) }) {
            out = out.replacing(#/(?i)(\\?"?(?:password|passwd|authorization|cookie|api_key|apikey|access_token|refresh_token|token|secret)\\?"?\s*[:=]\s*)(\\?"[^"\\]*\\?"|[^\s,;}]+)/#) { match in
                let value = match.output.2
                let quote = value.hasPrefix("\\\"") ? "\\\"" : value.hasPrefix("\"") ? "\"" : ""
                return "\(match.output.1)\(quote)[redacted]\(quote)"
            }
        }
        return out
    }

    private static let fieldWords = ["password", "passwd", "authorization", "cookie", "api_key", "apikey", "token", "secret"]

    /// Whether a metadata key names a secret, so its value is dropped whole.
    static func isSecretKey(_ key: String) -> Bool {
        let lower = key.lowercased()
        return fieldWords.contains { lower.contains($0) }
    }
}
