/// Writes Server-Sent Events to a streamed response body, with back-pressure from the client.
public struct EventStreamWriter: Sendable {
    public let body: ResponseBodyWriter

    public init(body: ResponseBodyWriter) {
        self.body = body
    }

    public func send(_ event: ServerSentEvent) async throws {
        try await body.write(event.encoded())
    }

    /// Sends a frame already encoded as `ServerSentEvent.encoded()` would.
    public func send(encoded frame: [UInt8]) async throws {
        try await body.write(frame)
    }

    /// Sends several events in one write, so events that are ready together leave in one packet.
    public func send(_ events: [ServerSentEvent]) async throws {
        var bytes: [UInt8] = []
        for event in events { bytes.append(contentsOf: event.encoded()) }
        try await body.write(bytes)
    }

    /// A comment line that keeps proxies and clients from timing out an idle stream.
    public func keepAlive(_ text: String = "keep-alive") async throws {
        try await body.write(ServerSentEvent.comment(text))
    }
}

extension Response {
    /// A `text/event-stream` response whose events `produce` writes. It carries the headers
    /// that stop caches and buffering proxies from holding events back.
    public static func eventStream(
        status: HTTPStatus = .ok, headers: HTTPFields = HTTPFields(),
        _ produce: @escaping @Sendable (EventStreamWriter) async throws -> Void
    ) -> Response {
        var fields = headers
        fields.set("Content-Type", "text/event-stream; charset=utf-8")
        fields.set("Cache-Control", "no-cache")
        fields.set("X-Accel-Buffering", "no")
        return Response(status: status, headers: fields, body: .stream { writer in
            try await produce(EventStreamWriter(body: writer))
        })
    }
}
