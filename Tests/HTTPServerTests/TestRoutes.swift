import Foundation
import HTTPServer
import Synchronization

/// Records when a handler saw its task cancelled.
final class CancellationProbe: Sendable {
    private let state = Mutex<(started: ContinuousClock.Instant?, cancelled: ContinuousClock.Instant?)>((nil, nil))

    func started() { state.withLock { $0.started = .now } }
    func cancelled() { state.withLock { $0.cancelled = .now } }
    var wasStarted: Bool { state.withLock { $0.started != nil } }
    var cancelledAt: ContinuousClock.Instant? { state.withLock { $0.cancelled } }
}

/// The routes the live tests talk to.
func testRouter(probe: CancellationProbe = CancellationProbe()) -> Router {
    var routes = RouterBuilder()
    routes.get("/hello") { _ in Response(contentType: "text/plain", body: Array("hello".utf8)) }
    routes.get("/path") { r in Response(contentType: "text/plain", body: Array(r.target.utf8)) }
    routes.get("/header") { r in
        var response = Response(contentType: "text/plain", body: Array("ok".utf8))
        response.headers.add("X-Echo", r.queryItems["value"] ?? "")
        return response
    }
    routes.post("/echo", bodyLimit: 1024) { r in
        var response = Response(contentType: "application/octet-stream", body: r.body)
        response.headers.add("X-Trailers", r.trailers.map { "\($0.name)=\($0.value)" }.joined(separator: ","))
        return response
    }
    routes.get("/slow") { r in
        let ms = Int(r.queryItems["ms"] ?? "") ?? 200
        probe.started()
        try await Task.sleep(for: .milliseconds(ms))
        return Response(contentType: "text/plain", body: Array("slept \(ms)".utf8))
    }
    routes.get("/events") { r in
        let count = Int(r.queryItems["count"] ?? "") ?? 10
        let padding = String(repeating: "x", count: Int(r.queryItems["size"] ?? "") ?? 0)
        return .eventStream { events in
            for i in 0..<count {
                try await events.send(ServerSentEvent(event: "tick", id: String(i), data: "event-\(i) \(padding)"))
            }
        }
    }
    routes.get("/hang") { _ in
        .eventStream { events in
            probe.started()
            try await events.keepAlive()
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                probe.cancelled()
                throw error
            }
        }
    }
    return routes.build(defaultBodyLimit: 1024)
}
