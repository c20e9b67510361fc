import HTTPServer
import Testing

/// Valid requests: each must parse to the same result however its bytes are split.
@Suite(.timeLimit(.minutes(5))) struct RequestParserTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        let name: String
        let raw: String
        let count: Int
        var testDescription: String { name }
    }

    static let fixtures: [Fixture] = [
        Fixture(name: "simple GET", raw: "GET /health HTTP/1.1\nHost: x\n\n", count: 1),
        Fixture(name: "POST with Content-Length", raw: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello", count: 1),
        Fixture(name: "chunked with extension and trailers", raw: "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5;name=value\nhello\n6 ; a=\"b\"\n world\n0\nX-Checksum: 42\n\n", count: 1),
        Fixture(name: "three pipelined requests", raw: "GET /a HTTP/1.1\nHost: x\n\nPOST /b HTTP/1.1\nHost: x\nContent-Length: 3\n\nabcGET /c HTTP/1.1\nHost: x\n\n", count: 3),
        Fixture(name: "leading empty lines", raw: "\n\nGET / HTTP/1.1\nHost: x\n\n", count: 1),
        Fixture(name: "HTTP/1.0 without Host", raw: "GET / HTTP/1.0\n\n", count: 1),
        Fixture(name: "absolute-form target", raw: "GET http://example.com/health?x=1 HTTP/1.1\nHost: example.com\n\n", count: 1),
        Fixture(name: "OPTIONS asterisk", raw: "OPTIONS * HTTP/1.1\nHost: x\n\n", count: 1),
        Fixture(name: "identical duplicate Content-Length", raw: "POST / HTTP/1.1\nHost: x\nContent-Length: 2\nContent-Length: 2\n\nok", count: 1),
        Fixture(name: "obs-text in a field value", raw: "GET / HTTP/1.1\nHost: x\nX-Name: caf\u{e9}\n\n", count: 1),
    ]

    @Test(arguments: fixtures)
    func parsesTheSameAtEverySplit(_ fixture: Fixture) throws {
        let bytes = crlf(fixture.raw)
        let whole = parse(bytes)
        guard case .requests(let requests) = whole else {
            Issue.record("fixture failed to parse: \(whole)")
            return
        }
        #expect(requests.count == fixture.count)
        for pieces in everySplit(of: bytes) {
            #expect(parse(bytes, pieces: pieces) == whole, "split \(pieces.prefix(3))")
        }
    }

    /// RFC 9110 §2.5: a request in a later HTTP/1 minor version is processed as HTTP/1.1.
    @Test(arguments: ["HTTP/1.2", "HTTP/1.9"]) func laterMinorVersionsAreServedAsHTTP11(_ version: String) throws {
        guard case .requests(let requests) = parse(crlf("GET / \(version)\nHost: x\n\n")) else {
            Issue.record("\(version) was refused")
            return
        }
        #expect(requests.first?.version == .http1_1)
    }

    @Test func chunkedBodyIsDecodedWithTrailers() throws {
        let outcome = parse(crlf("POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5;name=value\nhello\n6\n world\n0\nX-Checksum: 42\n\n"))
        guard case .requests(let requests) = outcome, let request = requests.first else {
            Issue.record("\(outcome)")
            return
        }
        #expect(String(decoding: request.body, as: UTF8.self) == "hello world")
        #expect(request.trailers == ["X-Checksum: 42"])
        #expect(request.framing == .chunked)
    }

    @Test func keepAliveFollowsVersionAndConnectionHeader() throws {
        func keepAlive(_ raw: String) -> Bool? {
            if case .requests(let r) = parse(crlf(raw)) { return r.first?.keepAlive }
            return nil
        }
        #expect(keepAlive("GET / HTTP/1.1\nHost: x\n\n") == true)
        #expect(keepAlive("GET / HTTP/1.1\nHost: x\nConnection: close\n\n") == false)
        #expect(keepAlive("GET / HTTP/1.1\nHost: x\nConnection: Upgrade, CLOSE\n\n") == false)
        #expect(keepAlive("GET / HTTP/1.0\n\n") == false)
        #expect(keepAlive("GET / HTTP/1.0\nConnection: keep-alive\n\n") == true)
    }

    @Test func expectContinueIsRecognised() {
        guard case .requests(let r) = parse(crlf("POST / HTTP/1.1\nHost: x\nContent-Length: 1\nExpect: 100-Continue\n\na")) else {
            Issue.record("did not parse")
            return
        }
        #expect(r.first?.expectsContinue == true)
    }

    @Test func fieldValuesAreTrimmedOfWhitespace() {
        guard case .requests(let r) = parse(crlf("GET / HTTP/1.1\nHost: x\nX-A: \t spaced out \t\n\n")) else {
            Issue.record("did not parse")
            return
        }
        #expect(r.first?.headers.contains("X-A: spaced out") == true)
    }

    @Test func requestTargetAtTheLimitIsAccepted() {
        var limits = RequestParser.Limits()
        limits.maxTargetBytes = 100
        let atLimit = "/" + String(repeating: "a", count: 99)
        guard case .requests(let r) = parse(crlf("GET \(atLimit) HTTP/1.1\nHost: x\n\n"), limits: limits) else {
            Issue.record("target at the limit was refused")
            return
        }
        #expect(r.first?.target == atLimit)
    }

    @Test func headerBlockAtTheLimitIsAccepted() {
        var limits = RequestParser.Limits()
        limits.maxHeaderBytes = 64
        // "Host: x\r\n" is 9 bytes; "X: " + value + CRLF makes up the rest of the 64.
        let value = String(repeating: "v", count: 64 - 9 - 5)
        let outcome = parse(crlf("GET / HTTP/1.1\nHost: x\nX: \(value)\n\n"), limits: limits)
        guard case .requests(let r) = outcome else {
            Issue.record("header block at the limit was refused: \(outcome)")
            return
        }
        #expect(r.count == 1)
    }
}
