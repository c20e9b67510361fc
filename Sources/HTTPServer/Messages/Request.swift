/// A complete request as handlers see it: head, decoded body and routing results.
///
/// The body is read in full (up to the route's limit) before the handler runs: parley's
/// requests are small JSON documents, and a complete body lets a handler validate it at once.
public struct Request: Sendable {
    public let method: HTTPMethod
    /// The request target exactly as sent (origin-form, absolute-form or `*`).
    public let target: String
    /// The percent-encoded path of the target, without the query.
    public let path: String
    /// The raw query string after `?`, or nil.
    public let query: String?
    public let version: HTTPVersion
    public var headers: HTTPFields
    public var body: [UInt8]
    /// Trailer fields that followed a chunked body, if any.
    public var trailers: HTTPFields
    /// Values bound by the route pattern (`/v1/sessions/{id}` → `id`).
    public var parameters: PathParameters
    /// The pattern of the route that matched (`/v1/sessions/{id}`), nil when none did; set
    /// before middleware runs, for logs and metrics by route.
    public var route: String?
    /// The matched route's handler, run innermost after the middleware.
    var handler: RouteHandler?
    /// The peer's address as text (`127.0.0.1`, `::1`).
    public let remoteAddress: String

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
        headers: HTTPFields = HTTPFields(), body: [UInt8] = [], trailers: HTTPFields = HTTPFields(),
        remoteAddress: String = "127.0.0.1"
    ) {
        self.trailers = trailers
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.parameters = PathParameters()
        self.remoteAddress = remoteAddress
        let (path, query) = Request.split(target: target)
        self.path = path
        self.query = query
    }

    /// Decoded query parameters; a later duplicate does not replace an earlier one.
    public var queryItems: [String: String] {
        guard let query else { return [:] }
        var items: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(parts[0], plusAsSpace: true)
            let value = parts.count > 1 ? percentDecode(parts[1], plusAsSpace: true) : ""
            if let name, let value, items[name] == nil { items[name] = value }
        }
        return items
    }

    static func split(target: String) -> (path: String, query: String?) {
        var rest = Substring(target)
        // absolute-form (RFC 9112 §3.2.2): route on the path part only.
        if !rest.hasPrefix("/"), let scheme = rest.firstRange(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        // On the bytes: `?` is ASCII, and finding a Character walks the target by grapheme.
        if let mark = rest.utf8.firstIndex(of: UInt8(ascii: "?")) {
            return (String(rest[..<mark]), String(rest[rest.utf8.index(after: mark)...]))
        }
        return (String(rest), nil)
    }
}

/// Decodes `%XX` escapes; nil when an escape is malformed or the result is not UTF-8.
public func percentDecode<S: StringProtocol>(_ text: S, plusAsSpace: Bool = false) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        switch byte {
        case UInt8(ascii: "%"):
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        case UInt8(ascii: "+") where plusAsSpace:
            bytes.append(UInt8(ascii: " "))
        default:
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
