extension RequestParser {
    /// Size limits the parser enforces while a request head arrives.
    ///
    /// Each limit is checked on the boundary: a value exactly at the limit is accepted,
    /// one byte more is refused with the status named beside it.
    public struct Limits: Sendable, Hashable {
        /// Longest request target, in bytes (→ 414). 8 KiB is what RFC 9112 §3 recommends
        /// supporting at least, and what common proxies allow.
        public var maxTargetBytes: Int = 8 * 1024
        /// Longest header block (field lines, without the request line), in bytes (→ 431).
        /// 16 KiB holds a long JWT and a browser's cookies with room to spare.
        public var maxHeaderBytes: Int = 16 * 1024
        /// Most field lines in one head (→ 431): bounds the work a tiny-field flood can cause.
        public var maxHeaderCount: Int = 100
        /// Longest chunk-size line with its extensions (→ 400).
        public var maxChunkLineBytes: Int = 4 * 1024

        public init() {}

        /// Longest request line the parser can ever accept: method, target, version, separators.
        var maxRequestLineBytes: Int { maxTargetBytes + 32 }
    }
}
