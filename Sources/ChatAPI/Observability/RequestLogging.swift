import ChatCore
import FoundationEssentials
public import HTTPServer
import Synchronization
public import Logging
import Metrics

/// The request being served, for every log line written while it is (the log handler reads
/// it through a metadata provider); tasks a request starts inherit it.
public enum RequestContext {
    @TaskLocal public static var requestID: String?
    /// The client's address (through trusted proxies), so every line can be attributed.
    @TaskLocal public static var clientAddress: String?

    /// Adds `parley.request_id` and `parley.client` to log lines written inside a request.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let id = requestID else { return [:] }
        var metadata: Logger.Metadata = ["parley.request_id": "\(id)"]
        if let clientAddress { metadata["parley.client"] = "\(clientAddress)" }
        return metadata
    }
}

/// Gives every request an id (`X-Request-ID` if the client sent a sane one, else a new UUID),
/// returns it, puts it in every log line of the request, and writes one access line per
/// request with its route, status and duration.
public struct RequestLogging: Middleware {
    let logger: Logger
    let metrics: HTTPMetrics?
    let clients: ClientAddress

    /// `clients` resolves the address each line names (behind `TRUSTED_PROXIES`, the client's).
    public init(logger: Logger, metrics: HTTPMetrics?, clients: ClientAddress = ClientAddress()) {
        self.logger = logger
        self.metrics = metrics
        self.clients = clients
    }

    public func handle(_ request: Request, next: Next) async throws -> Response {
        let id = Self.acceptedID(request.headers["X-Request-ID"]) ?? UUID.random().lowercasedText
        let client = clients.resolve(request)
        let started = ContinuousClock.now
        var response = try await RequestContext.$requestID.withValue(id) {
            try await RequestContext.$clientAddress.withValue(client) { try await next(request) }
        }
        response.headers.set("X-Request-ID", id)
        let toHead = ContinuousClock.now - started
        // Unmatched paths are one series, so a scanner cannot create unbounded label values.
        let route = request.route ?? "unmatched"
        let status = response.status.code, method = request.method.rawValue
        metrics?.requests.increment([route, method, String(status)])
        metrics?.latency.observe(toHead, [route, method])
        let streamed: Bool = if case .stream = response.body { true } else { false }
        if streamed { metrics?.streamOpened() }
        // The access line is written when the response ends, not at its head: a streamed
        // answer's line then says how long it really ran and how much it sent.
        let logger = self.logger, metrics = self.metrics
        response.onFinish { finish in
            if streamed { metrics?.streamClosed() }
            let level: Logger.Level = route.hasPrefix("/health") || route == "/metrics" ? .debug : .info
            let total = ContinuousClock.now - started
            logger.log(level: level, "request", metadata: [
                "parley.request_id": "\(id)", "parley.client": "\(client)", "parley.method": "\(method)", "parley.route": "\(route)",
                "parley.status": "\(status)", "parley.duration_ms": "\((total.seconds * 100_000).rounded() / 100)",
                "parley.head_ms": "\((toHead.seconds * 100_000).rounded() / 100)", "parley.bytes": "\(finish.bodyBytes)",
                "parley.completed": "\(finish.completed)",
            ])
        }
        return response
    }

    /// A client's id is kept if it is 1–128 visible characters of `[A-Za-z0-9._:-]`, so it
    /// cannot smuggle anything into logs or headers.
    static func acceptedID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count) else { return nil }
        let allowed = value.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
            default: false
            }
        }
        return allowed ? value : nil
    }
}
