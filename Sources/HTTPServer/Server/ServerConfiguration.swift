/// Everything the HTTP server needs to know before it binds. Built once, never changed.
public struct ServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal or a host name (`127.0.0.1`, `::`, `localhost`).
    /// `::` accepts IPv4 and IPv6 on one socket.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (tests read it back from `Server.localPort`).
    public var port: Int = 8080
    /// Connections open at once; the next one is answered 503 and closed.
    public var maxConnections: Int = 10_000
    /// Connections open at once from one address, so one client cannot hold them all; the
    /// next is answered 503 and closed. Addresses `isExemptFromAddressCap` accepts (a load
    /// balancer in front) have none.
    public var maxConnectionsPerAddress: Int = 64
    public var isExemptFromAddressCap: @Sendable (String) -> Bool = { _ in false }
    public var parserLimits = RequestParser.Limits()
    /// Time allowed for a whole request head once its first byte arrived, and for the first
    /// request on a new connection (slowloris protection) → 408.
    public var headerTimeout: Duration = .seconds(10)
    /// Time allowed for a request body to arrive → 408.
    public var bodyTimeout: Duration = .seconds(30)
    /// How long a keep-alive connection may wait for its next request before it is closed.
    /// Past three quarters of `maxConnections` it shrinks, down to one second at the cap, so
    /// idle connections make room for new ones.
    public var idleTimeout: Duration = .seconds(75)
    /// How long a client may read nothing while a response waits to be sent, before the
    /// connection is dropped (a stalled reader must not pin a stream forever).
    public var writeTimeout: Duration = .seconds(30)
    /// Bytes of response waiting for the client above which a streaming producer is suspended.
    public var outboundHighWaterMark: Int = 64 * 1024
    /// Bytes of pipelined requests buffered while a request is handled, before reading pauses.
    public var maxPipelinedBytes: Int = 64 * 1024
    /// Request body bytes all connections together may be receiving at once; a body that
    /// would go past it is refused with 503 before it is read, so slow uploads on many
    /// connections cannot take the server's memory.
    public var maxBodyBytesInFlight: Int = 64 << 20
    public var backlog: Int32 = 1024
    /// Serial queues that share the connections' socket work.
    public var ioQueueCount: Int = 2

    public init() {}
}

extension Duration {
    var dispatchNanoseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    }
}
