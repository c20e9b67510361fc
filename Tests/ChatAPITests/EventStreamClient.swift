import HTTPClient
import Foundation
import LLMProviders

/// A streamed response read as Server-Sent Events, through libcurl like any HTTP client.
/// Dropping it closes the connection.
struct EventStream {
    let status: Int
    let headers: [String: String]
    private var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
    private var parser = EventStreamParser()
    private var pending: [StreamEvent] = []
    /// Every byte received, comments included.
    private(set) var raw: [UInt8] = []

    init(_ response: IncomingResponse) {
        status = response.status
        headers = response.headers
        iterator = response.body.makeAsyncIterator()
    }

    /// The next event, or nil when the response has ended.
    mutating func next() async throws -> StreamEvent? {
        while pending.isEmpty {
            guard let piece = try await iterator.next() else { return nil }
            raw += piece
            pending = try parser.feed(piece)
        }
        return pending.removeFirst()
    }

    /// Every remaining event.
    mutating func rest() async throws -> [StreamEvent] {
        var events: [StreamEvent] = []
        while let event = try await next() { events.append(event) }
        return events
    }
}

extension StreamEvent {
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
    var delta: String? { event == "token" ? json["delta"] as? String : nil }
    var message: [String: Any] { json["message"] as? [String: Any] ?? [:] }
}

extension APIHarness {
    /// Sends a request asking for `text/event-stream` and returns once the head has arrived.
    func stream(_ method: String, _ path: String, token: String, json: String? = nil, headers: [(String, String)] = []) async throws -> EventStream {
        var fields = [("Authorization", "Bearer \(token)"), ("Accept", "text/event-stream")] + headers
        if json != nil { fields.append(("Content-Type", "application/json")) }
        let request = OutgoingRequest(url: "http://127.0.0.1:\(port)\(path)", method: method, headers: fields, body: Array((json ?? "").utf8))
        return EventStream(try await Self.client.send(request))
    }

    /// A new session of the user on `model`; its id.
    func newSession(_ token: String, model: String = "mock-model") async throws -> String {
        let reply = try await call("POST", "/v1/sessions", token: token, json: #"{"model":"\#(model)"}"#)
        guard let id = reply["id"] else { throw HarnessError.unexpected(reply.text) }
        return id
    }

    /// Sends `content` as a stream and reads it to its end.
    func send(_ content: String, session: String, token: String, headers: [(String, String)] = []) async throws -> [StreamEvent] {
        var stream = try await self.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                           json: #"{"content":\#(jsonString(content))}"#, headers: headers)
        return try await stream.rest()
    }
}

enum HarnessError: Error {
    case unexpected(String)
}

func jsonString(_ text: String) -> String {
    (try? JSONEncoder().encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
}
