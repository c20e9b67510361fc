import Foundation
import HTTPServer

/// A request as the parser delivered it, comparable across different ways of feeding bytes.
struct ParsedRequest: Equatable, CustomStringConvertible {
    var method: HTTPMethod
    var target: String
    var version: HTTPVersion
    var headers: [String]
    var framing: BodyFraming
    var keepAlive: Bool
    var expectsContinue: Bool
    var body: [UInt8] = []
    var trailers: [String] = []

    var description: String { "\(method.rawValue) \(target) \(version) body=\(body.count)B" }
}

enum ParseOutcome: Equatable {
    case requests([ParsedRequest])
    case failure(HTTPParseError, after: [ParsedRequest])
}

/// Turns `\n` into CRLF so fixtures can be written with plain newlines.
func crlf(_ text: String) -> [UInt8] {
    Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)
}

/// Feeds `bytes` to a fresh parser in pieces of the given sizes (the rest in one last piece),
/// the way a connection does: append to a buffer, parse until it asks for more.
func parse(_ bytes: [UInt8], pieces: [Int] = [], limits: RequestParser.Limits = RequestParser.Limits()) -> ParseOutcome {
    var parser = RequestParser(limits: limits)
    var buffer: [UInt8] = []
    var index = 0
    var done: [ParsedRequest] = []
    var current: ParsedRequest?
    var offset = 0
    var cuts = pieces.map { $0 }
    while offset < bytes.count {
        let size = cuts.isEmpty ? bytes.count - offset : min(cuts.removeFirst(), bytes.count - offset)
        buffer.append(contentsOf: bytes[offset..<offset + size])
        offset += size
        do {
            while let event = try parser.next(buffer, &index) {
                switch event {
                case .head(let head):
                    current = ParsedRequest(
                        method: head.method, target: head.target, version: head.version,
                        headers: head.headers.map { "\($0.name): \($0.value)" }, framing: head.framing,
                        keepAlive: head.keepAlive, expectsContinue: head.expectsContinue
                    )
                case .body(let slice):
                    current?.body.append(contentsOf: slice)
                case .end(let trailers):
                    if var request = current {
                        request.trailers = trailers.map { "\($0.name): \($0.value)" }
                        done.append(request)
                    }
                    current = nil
                }
            }
        } catch {
            return .failure(error, after: done)
        }
    }
    return .requests(done)
}

/// Every way of splitting `bytes` in two, plus one byte at a time.
func everySplit(of bytes: [UInt8]) -> [[Int]] {
    (1..<max(bytes.count, 2)).map { [$0] } + [Array(repeating: 1, count: bytes.count)]
}
