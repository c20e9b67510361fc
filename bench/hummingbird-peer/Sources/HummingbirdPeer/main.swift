import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore

// GET /health with the same body and content type as parley's, on PEER_PORT (default 8082).
// POST /v1/chat: the body is sent to UPSTREAM_URL/chat/completions (an OpenAI-compatible
// stream), and each token comes back as `event: token` / `data: {"delta":…}`, like parley's.
// GET /v1/idle: see below.
let environment = ProcessInfo.processInfo.environment
let port = Int(environment["PEER_PORT"] ?? "") ?? 8082
let upstream = (environment["UPSTREAM_URL"] ?? "http://127.0.0.1:8081/v1") + "/chat/completions"
let body = ByteBuffer(string: "{\"status\":\"ok\",\"version\":\"0.1.0\"}")
var clientConfiguration = HTTPClient.Configuration()
clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 10_000)
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)

struct Chunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable { let content: String? }
        let delta: Delta?
    }
    let choices: [Choice]?
}

let router = Router()
router.get("health") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
}
router.post("v1/chat") { request, context -> Response in
    let payload = try await request.body.collect(upTo: 1 << 20)
    var upstreamRequest = HTTPClientRequest(url: upstream)
    upstreamRequest.method = .POST
    upstreamRequest.headers.add(name: "Content-Type", value: "application/json")
    upstreamRequest.body = .bytes(payload)
    let upstreamResponse = try await client.execute(upstreamRequest, timeout: .seconds(60))
    return Response(
        status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
        body: ResponseBody { writer in
            let decoder = JSONDecoder()
            var pending = ""
            for try await buffer in upstreamResponse.body {
                pending += String(buffer: buffer)
                while let end = pending.range(of: "\n\n") {
                    let event = pending[..<end.lowerBound]
                    pending = String(pending[end.upperBound...])
                    guard let data = event.split(separator: "\n").first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                          data != "[DONE]", let chunk = try? decoder.decode(Chunk.self, from: Data(data.utf8)),
                          let text = chunk.choices?.first?.delta?.content else { continue }
                    let json = String(decoding: try JSONEncoder().encode(["delta": text]), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "event: token\ndata: \(json)\n\n"))
                }
            }
            try await writer.finish(nil)
        }
    )
}
// GET /v1/idle: an SSE stream with nothing to say but a keep-alive comment every 15 s, the
// counterpart of a parley reader waiting on an answer (for the open-streams memory figure).
router.get("v1/idle") { _, _ -> Response in
    Response(
        status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
        body: ResponseBody { writer in
            while !Task.isCancelled {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                try await Task.sleep(for: .seconds(15))
            }
            try await writer.finish(nil)
        }
    )
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
