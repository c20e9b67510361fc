import Foundation
import Hummingbird

// GET /health with the same body and content type as parley's, on PEER_PORT (default 8082).
let port = Int(ProcessInfo.processInfo.environment["PEER_PORT"] ?? "") ?? 8082
let body = ByteBuffer(string: "{\"status\":\"ok\",\"version\":\"0.1.0\"}")
let router = Router()
router.get("health") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
