import Foundation
import HTTPServer
@testable import WebUI
import Testing

/// The page and its files as the router serves them: what is embedded is what web/ holds,
/// every answer carries the security headers, an ETag brings a 304, gzip when accepted.
@Suite(.timeLimit(.minutes(1))) struct WebUITests {
    static let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("web")

    static func router() -> Router {
        var routes = RouterBuilder()
        WebUI.register(on: &routes)
        return routes.build()
    }

    static func get(_ router: Router, _ target: String, _ headers: [(String, String)] = []) async -> Response {
        var fields = HTTPFields()
        for (name, value) in headers { fields.add(name, value) }
        return await router.respond(to: Request(method: .get, target: target, headers: fields))
    }

    static func bytes(_ response: Response) -> [UInt8] {
        if case .bytes(let b) = response.body { return b }
        return []
    }

    @Test func theEmbeddedFilesAreTheFolder() throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: Self.web.path).filter {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: Self.web.appendingPathComponent($0).path, isDirectory: &directory) && !directory.boolValue
        }
        #expect(Set(files) == Set(WebUI.assets.keys), "run scripts/embed-web.py after changing web/")
        for file in files {
            var expected = Array(try Data(contentsOf: Self.web.appendingPathComponent(file)))
            if file == "index.html" {
                expected = Array(String(decoding: expected, as: UTF8.self).replacingOccurrences(of: "{{ASSETS}}", with: WebUI.assetsPath).utf8)
            }
            #expect(WebUI.assets[file]?.body == expected, "\(file) differs from web/\(file): run scripts/embed-web.py")
        }
    }

    @Test func everyFileIsServedWithTheSecurityHeadersAndRevalidates() async throws {
        let router = Self.router()
        for path in WebUI.assets.keys {
            let target = path == "index.html" ? "/" : "\(WebUI.assetsPath)/\(path)"
            let response = await Self.get(router, target)
            #expect(response.status == .ok, "\(target)")
            #expect(response.headers["Content-Security-Policy"]?.contains("script-src 'self'") == true, "\(target)")
            #expect(response.headers["Content-Security-Policy"]?.contains("frame-ancestors 'none'") == true)
            #expect(response.headers["Content-Security-Policy"]?.contains("connect-src 'self'") == true)
            #expect(response.headers["X-Content-Type-Options"] == "nosniff")
            #expect(response.headers["Referrer-Policy"] == "no-referrer")
            #expect(response.headers["Cache-Control"] == (path == "index.html" ? "no-cache" : "public, max-age=31536000, immutable"))
            let etag = try #require(response.headers["ETag"])
            let again = await Self.get(router, target, [("If-None-Match", etag)])
            #expect(again.status == .notModified, "\(target)")
            #expect(Self.bytes(again).isEmpty)
            #expect(again.headers["Content-Security-Policy"] != nil, "a 304 carries the headers too")
            #expect(await Self.get(router, target, [("If-None-Match", "\"other\"")]).status == .ok)
        }
    }

    @Test func gzipWhenAcceptedAndTheIndexNamesTheVersionedFiles() async throws {
        let router = Self.router()
        let script = "\(WebUI.assetsPath)/app.js"
        let plain = await Self.get(router, script)
        let packed = await Self.get(router, script, [("Accept-Encoding", "br, gzip;q=0.8")])
        #expect(packed.headers["Content-Encoding"] == "gzip")
        #expect(packed.headers["Vary"] == "Accept-Encoding")
        #expect(Self.bytes(packed).count < Self.bytes(plain).count)
        #expect(Self.bytes(packed).prefix(2) == [0x1F, 0x8B])
        #expect(packed.headers["ETag"] != plain.headers["ETag"], "each encoding has its own tag")
        #expect(await Self.get(router, script, [("Accept-Encoding", "gzip;q=0")]).headers["Content-Encoding"] == nil)
        let index = String(decoding: Self.bytes(await Self.get(router, "/")), as: UTF8.self)
        #expect(index.contains("\(WebUI.assetsPath)/app.js"))
        #expect(!index.contains("{{ASSETS}}"))
        #expect(await Self.get(router, "/assets/0000/app.js").status == .notFound, "an old version is gone")
    }
}
