import FoundationEssentials
import HTTPServer

/// The refresh token as a cookie, for the web page: there it must stay out of reach of the
/// page's script (an injected script could otherwise carry it off), so the page asks for it
/// with `X-Parley-Refresh: cookie` when it signs in, and the token comes back in an `HttpOnly`
/// cookie instead of the body; refresh and logout then take the cookie in place of the body
/// field. API clients that do not ask keep the token in the body, as before.
///
/// Cross-site request forgery: the cookie is `SameSite=Strict`, so no other site's page can
/// make the browser send it; it is limited to `/v1/auth`, so it never goes with other
/// requests; a forged refresh could only mint tokens into a response the forging page cannot
/// read (no CORS grant), and a forged logout needs the access token too. `Secure` when the
/// request came over HTTPS (`X-Forwarded-Proto: https` from a trusted proxy) or when
/// `COOKIE_SECURE=true`.
public struct RefreshCookie: Sendable {
    public static let name = "parley_refresh"
    public static let requestHeader = "X-Parley-Refresh"
    let alwaysSecure: Bool
    let clients: ClientAddress
    let lifetime: Duration

    public init(alwaysSecure: Bool, clients: ClientAddress, lifetime: Duration) {
        self.alwaysSecure = alwaysSecure
        self.clients = clients
        self.lifetime = lifetime
    }

    /// Whether the client asked for the refresh token in the cookie; another value is a 422.
    func wanted(by request: Request) throws -> Bool {
        guard let value = request.headers[Self.requestHeader] else { return false }
        guard value.lowercased() == "cookie" else { throw JSONBody.validation(Self.requestHeader, "must be cookie, or absent") }
        return true
    }

    /// The refresh token the request's cookie holds, if any.
    func token(in request: Request) -> String? {
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingOWS() == Self.name {
                    let value = parts[1].trimmingOWS()
                    return value.isEmpty ? nil : String(value)
                }
            }
        }
        return nil
    }

    /// Puts `token` in the cookie (nil: clears it).
    func set(_ token: String?, for request: Request, on response: inout Response) {
        var cookie = "\(Self.name)=\(token ?? ""); Path=/v1/auth; HttpOnly; SameSite=Strict; Max-Age=\(token == nil ? 0 : Int(lifetime.components.seconds))"
        if alwaysSecure || (clients.isTrusted(request.remoteAddress) && request.headers["X-Forwarded-Proto"]?.lowercased() == "https") {
            cookie += "; Secure"
        }
        response.headers.add("Set-Cookie", cookie)
        response.headers.set("Cache-Control", "no-store")
    }
}
