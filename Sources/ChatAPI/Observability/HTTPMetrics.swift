public import Metrics
import Synchronization

/// The HTTP metrics: requests by route, method and status; latency to the response head by
/// route; open event streams.
public final class HTTPMetrics: Sendable {
    public let registry: MetricsRegistry
    let requests: Counter
    let latency: Histogram
    let openStreams = Atomic<Int>(0)

    public init(registry: MetricsRegistry) {
        self.registry = registry
        requests = registry.counter("parley_http_requests_total", "Requests answered, by route, method and status.",
                                    labels: ["route", "method", "status"])
        latency = registry.histogram("parley_http_request_duration_seconds", "Time to the response head, by route and method.",
                                     labels: ["route", "method"])
        // The registry lives as long as the process, and with it this object.
        registry.gauge("parley_sse_streams_open", "Server-Sent Event responses being written.") { [weak self] in
            Double(self?.openStreams.load(ordering: .relaxed) ?? 0)
        }
    }

    func streamOpened() { openStreams.add(1, ordering: .relaxed) }
    func streamClosed() { openStreams.subtract(1, ordering: .relaxed) }
}
