import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

// The yardstick parley is measured against, written the way Hummingbird's and
// AsyncHTTPClient's own streaming examples are: bytes stay in `ByteBuffer`s from the upstream
// socket to the client's, events are cut on the buffer without copying, one decoder per stream,
// and every event of one upstream read goes out in one write.
//
// GET /health with the same body and content type as parley's, on PEER_PORT (default 8082).
// POST /v1/chat: the body is sent to UPSTREAM_URL/chat/completions (an OpenAI-compatible
// stream), and each token comes back as `event: token` / `data: {"delta":…}`, like parley's.
// GET /v1/idle: see below.
let environment = ProcessInfo.processInfo.environment
let port = Int(environment["PEER_PORT"] ?? "") ?? 8082
let upstream = (environment["UPSTREAM_URL"] ?? "http://127.0.0.1:8081/v1") + "/chat/completions"
let health = ByteBuffer(string: "{\"status\":\"ok\",\"version\":\"0.1.0\"}")
var clientConfiguration = HTTPClient.Configuration()
clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 10_000)
clientConfiguration.decompression = .disabled
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)

/// The part of an OpenAI stream chunk the proxy needs.
struct Chunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable { let content: String? }
        let delta: Delta?
    }
    let choices: [Choice]?
}

/// Splits an upstream event stream into its `data:` payloads, on the bytes as they arrive.
struct EventSplitter {
    private var pending = ByteBuffer()

    /// Each complete event's data payload in `buffer` (with what was left from before).
    mutating func payloads(_ buffer: inout ByteBuffer, _ body: (ByteBuffer) throws -> Void) rethrows {
        if pending.readableBytes == 0 {
            try split(&buffer, body)
            if buffer.readableBytes > 0 { pending = buffer }
        } else {
            pending.writeBuffer(&buffer)
            try split(&pending, body)
            pending.discardReadBytes()
        }
    }

    private func split(_ buffer: inout ByteBuffer, _ body: (ByteBuffer) throws -> Void) rethrows {
        while let end = buffer.readableBytesView.firstRange(of: [UInt8(ascii: "\n"), UInt8(ascii: "\n")]) {
            let length = end.lowerBound - buffer.readerIndex
            guard var event = buffer.readSlice(length: length) else { return }
            buffer.moveReaderIndex(forwardBy: 2)
            while event.readableBytes > 0 {
                let lineLength = event.readableBytesView.firstIndex(of: UInt8(ascii: "\n")).map { $0 - event.readerIndex } ?? event.readableBytes
                guard var line = event.readSlice(length: lineLength) else { break }
                event.moveReaderIndex(forwardBy: min(1, event.readableBytes))
                if line.readableBytesView.starts(with: "data: ".utf8) {
                    line.moveReaderIndex(forwardBy: 6)
                    try body(line)
                }
            }
        }
    }
}

/// Writes `text` as a JSON string (quotes and escapes) into `buffer`.
func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
    buffer.writeInteger(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
        case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
        case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
        case 0..<0x20: buffer.writeString(String(format: "\\u%04x", byte))
        default: buffer.writeInteger(byte)
        }
    }
    buffer.writeInteger(UInt8(ascii: "\""))
}

let router = Router()
router.get("health") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: health))
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
            var splitter = EventSplitter()
            var out = ByteBuffer()
            for try await var buffer in upstreamResponse.body {
                out.clear()
                splitter.payloads(&buffer) { data in
                    guard !data.readableBytesView.elementsEqual("[DONE]".utf8),
                          let text = (try? decoder.decode(Chunk.self, from: data))?.choices?.first?.delta?.content else { return }
                    out.writeStaticString("event: token\ndata: {\"delta\":")
                    writeJSONString(text, into: &out)
                    out.writeStaticString("}\n\n")
                }
                if out.readableBytes > 0 { try await writer.write(out) }
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
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
try await app.runService()
