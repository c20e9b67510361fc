public import HTTPServer
import FoundationEssentials
import Synchronization

/// One file of the web page as `scripts/embed-web.py` wrote it into the binary.
struct EmbeddedFile: Sendable {
    let path: String
    let contentType: String
    let etag: String
    let base64: String
    let gzipBase64: String?
}

/// The web page parley serves: `/` and its files under `/assets/<version>/`, from the binary.
///
/// Every answer carries the page's security headers (a Content-Security-Policy allowing only
/// this origin's scripts, styles and connections, no framing, no referrer, no sniffing). The
/// page is revalidated on every load (`no-cache` with an `ETag`, answered `304` when it has not
/// changed); an asset's address changes with its content, so it is cached for a year. Clients
/// that accept gzip get the compressed copy made when the files were embedded.
public enum WebUI {
    /// A file of the page, decoded from the binary when it is first asked for: a server whose
    /// page nobody opens keeps none of it in memory (decoded at start-up, the files were 1.4 MiB
    /// of its idle heap, and their text in the binary 1.9 MiB more of resident pages).
    final class Asset: Sendable {
        let contentType: String
        let etag: String
        private let file: EmbeddedFile
        private let cache = Mutex<(body: [UInt8]?, gzip: [UInt8]?)>((nil, nil))

        init(_ file: EmbeddedFile) {
            self.file = file
            contentType = file.contentType
            etag = file.etag
        }

        var hasGzip: Bool { file.gzipBase64 != nil }

        var body: [UInt8] { decoded(gzip: false, from: file.base64) }
        var gzip: [UInt8]? { file.gzipBase64.map { decoded(gzip: true, from: $0) } }

        /// The generator wrote valid base64; a test decodes every file.
        private func decoded(gzip: Bool, from base64: String) -> [UInt8] {
            cache.withLock { cache in
                if let bytes = gzip ? cache.gzip : cache.body { return bytes }
                let bytes = Data(base64Encoded: base64).map(Array.init) ?? []
                if gzip { cache.gzip = bytes } else { cache.body = bytes }
                return bytes
            }
        }
    }

    /// Where the page's files are served, versioned by their content.
    public static let assetsPath = "/assets/\(EmbeddedWebAssets.version)"

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The files by path, each decoded on its first request.
    static let assets: [String: Asset] = Dictionary(
        EmbeddedWebAssets.files.map { ($0.path, Asset($0)) }, uniquingKeysWith: { first, _ in first })

    public static func register(on router: inout RouterBuilder) {
        router.get("/") { request in serve("index.html", to: request, cacheControl: "no-cache") }
        for path in assets.keys where path != "index.html" {
            router.get("\(assetsPath)/\(path)") { request in serve(path, to: request, cacheControl: "public, max-age=31536000, immutable") }
        }
    }

    /// The headers every page and asset answer carries.
    public static func applySecurityHeaders(to headers: inout HTTPFields) {
        headers.set("Content-Security-Policy", contentSecurityPolicy)
        headers.set("X-Content-Type-Options", "nosniff")
        headers.set("Referrer-Policy", "no-referrer")
        headers.set("X-Frame-Options", "DENY")
        headers.set("Cross-Origin-Opener-Policy", "same-origin")
    }

    static func serve(_ path: String, to request: Request, cacheControl: String) -> Response {
        guard let asset = assets[path] else { return .problem(.notFound, detail: "no route matches \(request.path)") }
        let gzip = asset.hasGzip && acceptsGzip(request.headers["Accept-Encoding"])
        let etag = gzip ? "\"\(asset.etag)-gz\"" : "\"\(asset.etag)\""
        var headers = HTTPFields()
        applySecurityHeaders(to: &headers)
        headers.set("Cache-Control", cacheControl)
        headers.set("ETag", etag)
        headers.set("Vary", "Accept-Encoding")
        if let match = request.headers["If-None-Match"], match.split(separator: ",").contains(where: { tag in
            let tag = tag.trimmingOWS()
            return tag == etag || tag == "W/" + etag || tag == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers.set("Content-Type", asset.contentType)
        if gzip, let compressed = asset.gzip {
            headers.set("Content-Encoding", "gzip")
            return Response(status: .ok, headers: headers, body: .bytes(compressed))
        }
        return Response(status: .ok, headers: headers, body: .bytes(asset.body))
    }

    /// Whether `Accept-Encoding` takes gzip (listed, and not with `q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingOWS().lowercased() }
            guard parts.first == "gzip" || parts.first == "x-gzip" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }
}
