import Foundation
import HTTPServer
import Testing

/// Hostile and broken requests (RFC 9112 §2–§7, RFC 9110 §5): each must be refused with the
/// status named beside it, however its bytes arrive, and the parser must stay failed.
@Suite(.timeLimit(.minutes(5))) struct MalformedRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let raw: String
        let status: Int
        var testDescription: String { name }
        init(_ name: String, _ raw: String, _ status: Int) {
            self.name = name
            self.raw = raw
            self.status = status
        }
    }

    static let cases: [Case] = [
        // Request line (RFC 9112 §3)
        Case("missing target", "GET HTTP/1.1\nHost: x\n\n", 400),
        Case("two spaces after method", "GET  / HTTP/1.1\nHost: x\n\n", 400),
        Case("lowercase version", "GET / http/1.1\nHost: x\n\n", 400),
        Case("version with letters", "GET / HTTP/1.x\nHost: x\n\n", 400),
        Case("HTTP/2 preface", "PRI * HTTP/2.0\n\nSM\n\n", 505),
        Case("HTTP/3.0", "GET / HTTP/3.0\nHost: x\n\n", 505),
        Case("HTTP/1.9 still needs Host, as HTTP/1.1 does", "GET / HTTP/1.9\n\n", 400),
        Case("HTTP/0.9 version", "GET / HTTP/0.9\nHost: x\n\n", 505),
        Case("unknown method", "BREW /pot HTTP/1.1\nHost: x\n\n", 501),
        Case("CONNECT is not implemented", "CONNECT example.com:443 HTTP/1.1\nHost: example.com\n\n", 501),
        Case("method with a slash", "GE/T / HTTP/1.1\nHost: x\n\n", 400),
        Case("binary junk (TLS handshake)", "\u{16}\u{3}\u{1}\u{2}\u{0}", 400),
        Case("target without slash", "GET health HTTP/1.1\nHost: x\n\n", 400),
        Case("asterisk with GET", "GET * HTTP/1.1\nHost: x\n\n", 400),
        Case("control character in target", "GET /a\u{7f}b HTTP/1.1\nHost: x\n\n", 400),
        // Field syntax (RFC 9112 §5, RFC 9110 §5.5)
        Case("space before colon", "GET / HTTP/1.1\nHost : x\n\n", 400),
        Case("tab before colon", "GET / HTTP/1.1\nHost\t: x\n\n", 400),
        Case("obs-fold continuation", "GET / HTTP/1.1\nHost: x\nX-A: one\n two\n\n", 400),
        Case("line without colon", "GET / HTTP/1.1\nHost: x\nnonsense\n\n", 400),
        Case("empty field name", "GET / HTTP/1.1\nHost: x\n: value\n\n", 400),
        Case("NUL in field value", "GET / HTTP/1.1\nHost: x\nX-A: a\u{0}b\n\n", 400),
        Case("DEL in field value", "GET / HTTP/1.1\nHost: x\nX-A: a\u{7f}b\n\n", 400),
        Case("bare CR in field value", "GET / HTTP/1.1\nHost: x\nX-A: a\rb\n\n", 400),
        // Host (RFC 9112 §3.2)
        Case("missing Host in HTTP/1.1", "GET / HTTP/1.1\n\n", 400),
        Case("duplicate Host", "GET / HTTP/1.1\nHost: a\nHost: b\n\n", 400),
        Case("Host with a path", "GET / HTTP/1.1\nHost: a/b\n\n", 400),
        Case("Host with userinfo", "GET / HTTP/1.1\nHost: user@a\n\n", 400),
        Case("Host with a backslash", "GET / HTTP/1.1\nHost: a\\b\n\n", 400),
        Case("Host with a query", "GET / HTTP/1.1\nHost: a?b\n\n", 400),
        Case("Host with a fragment", "GET / HTTP/1.1\nHost: a#b\n\n", 400),
        Case("Host with a space inside", "GET / HTTP/1.1\nHost: a b\n\n", 400),
        Case("Host with a tab inside", "GET / HTTP/1.1\nHost: a\tb\n\n", 400),
        // Framing and smuggling (RFC 9112 §6)
        Case("Content-Length with Transfer-Encoding", "POST / HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n0\n\n", 400),
        Case("differing Content-Lengths", "POST / HTTP/1.1\nHost: x\nContent-Length: 4\nContent-Length: 5\n\nabcd", 400),
        Case("differing Content-Length list", "POST / HTTP/1.1\nHost: x\nContent-Length: 4, 5\n\nabcd", 400),
        Case("non-numeric Content-Length", "POST / HTTP/1.1\nHost: x\nContent-Length: pie\n\n", 400),
        Case("negative Content-Length", "POST / HTTP/1.1\nHost: x\nContent-Length: -1\n\n", 400),
        Case("signed Content-Length", "POST / HTTP/1.1\nHost: x\nContent-Length: +4\n\nabcd", 400),
        Case("empty Content-Length", "POST / HTTP/1.1\nHost: x\nContent-Length: \n\n", 400),
        Case("Content-Length overflow", "POST / HTTP/1.1\nHost: x\nContent-Length: 99999999999999999999\n\n", 400),
        Case("final coding not chunked", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked, gzip\n\n", 400),
        Case("identity coding", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: identity\n\n", 400),
        Case("chunked twice", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked, chunked\n\n", 400),
        Case("gzip then chunked", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: gzip, chunked\n\n", 501),
        Case("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n0\n\n", 400),
        Case("unsupported expectation", "POST / HTTP/1.1\nHost: x\nExpect: 200-ok\nContent-Length: 1\n\na", 417),
        // Chunk syntax (RFC 9112 §7.1)
        Case("chunk size not hex", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\nzz\nhi\n0\n\n", 400),
        Case("empty chunk size", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n\nhi\n0\n\n", 400),
        Case("negative chunk size", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n-2\nhi\n0\n\n", 400),
        Case("chunk size overflow", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\nffffffffffffffffff\nhi\n0\n\n", 400),
        Case("chunk data longer than its size", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n2\nhello\n0\n\n", 400),
        Case("chunk size with junk after it", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n2 x\nhi\n0\n\n", 400),
        Case("control byte in chunk extension", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n2;a=\u{1}\nhi\n0\n\n", 400),
        Case("trailer with obs-fold", "POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n0\nX-T: a\n b\n\n", 400),
    ]

    @Test(arguments: cases)
    func isRefused(_ testCase: Case) {
        let bytes = crlf(testCase.raw)
        for pieces in [[]] + everySplit(of: bytes) {
            guard case .failure(let error, _) = parse(bytes, pieces: pieces) else {
                Issue.record("accepted when split as \(pieces.prefix(4))")
                return
            }
            #expect(error.status.code == testCase.status, "\(error.detail)")
        }
    }

    @Test func bareLineFeedIsRefused() {
        let outcome = parse(Array("GET / HTTP/1.1\nHost: x\n\n".utf8))
        guard case .failure(let error, _) = outcome else {
            Issue.record("bare LF accepted")
            return
        }
        #expect(error.status.code == 400)
        #expect(error.detail.contains("LF"))
    }

    /// RFC 9110 §5.1: a field name is a token. Try every byte that is not a tchar.
    @Test func everyInvalidFieldNameByteIsRefused() {
        let tchars = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8(0)...UInt8(255) where !tchars.contains(byte) && byte != UInt8(ascii: ":") {
            var bytes = crlf("GET / HTTP/1.1\nHost: x\nX")
            bytes.append(byte)
            bytes += crlf("Y: 1\n\n")
            guard case .failure(let error, _) = parse(bytes) else {
                Issue.record("byte \(byte) accepted in a field name")
                continue
            }
            #expect(error.status.code == 400, "byte \(byte)")
        }
    }

    @Test func everyValidFieldNameByteIsAccepted() {
        for byte in "!#$%&'*+-.^_`|~09azAZ".utf8 {
            var bytes = crlf("GET / HTTP/1.1\nHost: x\nX")
            bytes.append(byte)
            bytes += crlf(": 1\n\n")
            guard case .requests(let r) = parse(bytes), r.count == 1 else {
                Issue.record("byte \(byte) refused in a field name")
                continue
            }
        }
    }

    @Test func targetOneByteOverTheLimitIs414() {
        var limits = RequestParser.Limits()
        limits.maxTargetBytes = 100
        let target = "/" + String(repeating: "a", count: 100)
        for pieces in [[], [20]] {
            guard case .failure(let error, _) = parse(crlf("GET \(target) HTTP/1.1\nHost: x\n\n"), pieces: pieces, limits: limits) else {
                Issue.record("101-byte target accepted")
                return
            }
            #expect(error.status.code == 414)
        }
    }

    /// A target that never ends must be refused once it passes the limit, not buffered forever.
    @Test func endlessTargetIsRefusedWithoutItsEnd() {
        let bytes = Array("GET /".utf8) + Array(repeating: UInt8(ascii: "a"), count: 9000)
        guard case .failure(let error, _) = parse(bytes) else {
            Issue.record("endless target accepted")
            return
        }
        #expect(error.status.code == 414)
    }

    @Test func headerBlockOneByteOverTheLimitIs431() {
        var limits = RequestParser.Limits()
        limits.maxHeaderBytes = 64
        let value = String(repeating: "v", count: 64 - 9 - 5 + 1)
        guard case .failure(let error, _) = parse(crlf("GET / HTTP/1.1\nHost: x\nX: \(value)\n\n"), limits: limits) else {
            Issue.record("65-byte header block accepted")
            return
        }
        #expect(error.status.code == 431)
    }

    @Test func endlessHeadersAreRefusedWithoutTheirEnd() {
        var bytes = crlf("GET / HTTP/1.1\nHost: x\n")
        for i in 0..<2000 { bytes += crlf("X-\(i): aaaaaaaaaa\n") }
        guard case .failure(let error, _) = parse(bytes) else {
            Issue.record("endless header block accepted")
            return
        }
        #expect(error.status.code == 431)
    }

    @Test func tooManyFieldsIs431() {
        var text = "GET / HTTP/1.1\nHost: x\n"
        for i in 0..<100 { text += "X-\(i): 1\n" }
        guard case .failure(let error, _) = parse(crlf(text + "\n")) else {
            Issue.record("101 fields accepted")
            return
        }
        #expect(error.status.code == 431)
    }

    @Test func parserStaysFailedAfterAnError() {
        var parser = RequestParser()
        var index = 0
        let bad = crlf("GET / HTTP/1.1\nHost : x\n\n")
        #expect(throws: HTTPParseError.self) { _ = try parser.next(bad, &index) }
        let good = crlf("GET / HTTP/1.1\nHost: x\n\n")
        var fresh = 0
        #expect(throws: HTTPParseError.self) { _ = try parser.next(good, &fresh) }
    }

    @Test func pipelinedRequestBeforeAnErrorIsStillDelivered() {
        let outcome = parse(crlf("GET /ok HTTP/1.1\nHost: x\n\nGET /bad HTTP/1.1\nHost: a\nHost: b\n\n"))
        guard case .failure(let error, let before) = outcome else {
            Issue.record("duplicate Host accepted")
            return
        }
        #expect(before.map(\.target) == ["/ok"])
        #expect(error.status.code == 400)
    }
}
