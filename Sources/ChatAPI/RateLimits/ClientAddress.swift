import Glibc
public import HTTPServer

/// The address of the client behind a request: the peer, unless the peer is a trusted proxy
/// (`TRUSTED_PROXIES`), in which case the nearest untrusted address of `X-Forwarded-For`.
/// An untrusted peer's `X-Forwarded-For` is ignored: anyone can write one.
public struct ClientAddress: Sendable {
    /// An address or network (`10.0.0.0/8`, `::1`, `fd00::/8`).
    public struct Network: Sendable, Equatable {
        let bytes: [UInt8]
        let prefix: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let address = parts.first, let bytes = ClientAddress.bytes(of: String(address)) else { return nil }
            let bits = bytes.count * 8
            if parts.count == 2 {
                guard let prefix = Int(parts[1]), (0...bits).contains(prefix) else { return nil }
                self.prefix = prefix
            } else {
                prefix = bits
            }
            self.bytes = bytes
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefix
            for (a, b) in zip(address, bytes) where remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if a & mask != b & mask { return false }
                remaining -= 8
            }
            return true
        }
    }

    let trusted: [Network]

    public init(trusted: [Network] = []) {
        self.trusted = trusted
    }

    /// Whether `address` is one of the trusted proxies.
    public func isTrusted(_ address: String) -> Bool {
        guard !trusted.isEmpty, let bytes = Self.bytes(of: address) else { return false }
        return trusted.contains { $0.contains(bytes) }
    }

    public func resolve(_ request: Request) -> String {
        // Every field line, in order: a proxy that appends a line of its own rather than
        // extending the last one must not leave the client's own line as the only one read.
        // Every access line resolves the client: without trusted proxies or the header that
        // costs nothing beyond the look-up.
        guard !trusted.isEmpty else { return request.remoteAddress }
        let lines = request.headers.values("X-Forwarded-For")
        guard !lines.isEmpty, isTrusted(request.remoteAddress) else { return request.remoteAddress }
        let hops = lines.joined(separator: ",").split(separator: ",").map { String($0.filter { $0 != " " && $0 != "\t" }) }
        // The rightmost hop a trusted proxy did not add is the client; a malformed one is not
        // believed, and the proxy's own address stands instead.
        for hop in hops.reversed() where !isTrusted(hop) {
            return Self.bytes(of: hop) == nil ? request.remoteAddress : hop
        }
        return hops.first ?? request.remoteAddress
    }

    /// The key a per-client limit counts under: an IPv4 address as it is, an IPv6 address by
    /// its /64 (one subscriber's usual allocation, so a client cannot step through its own
    /// prefix for fresh limits), anything else as it is.
    public static func limitKey(_ address: String) -> String {
        guard !address.contains("."), var bytes = bytes(of: address), bytes.count == 16 else { return address }
        for i in 8..<16 { bytes[i] = 0 }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return bytes.withUnsafeBytes { raw in
            inet_ntop(AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/64"
        }
    }

    /// The address's bytes (4 or 16), or nil if it is not an IP address.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
