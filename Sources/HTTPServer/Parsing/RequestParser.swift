/// An incremental, strict HTTP/1.1 request parser (RFC 9112).
///
/// The parser owns no socket: it is handed the connection's read buffer and an index,
/// consumes what it can and returns one event at a time, or nil when it needs more
/// bytes. Chunk boundaries never change the result, so every test runs in memory.
///
/// Strictness is deliberate. Anything a lenient parser and a strict one could read
/// differently (bare LF, obs-fold, whitespace before the colon, conflicting lengths,
/// `Transfer-Encoding` with `Content-Length`) is an error that ends the connection,
/// because a proxy in front of parley may have framed the same bytes otherwise.
public struct RequestParser: Sendable {
    public enum Event: Sendable {
        case head(RequestHead)
        /// A piece of the body; a slice of the buffer that was passed in.
        case body(ArraySlice<UInt8>)
        /// The end of the request, with any chunked trailer fields.
        case end(trailers: HTTPFields)
    }

    private enum State: Sendable {
        /// Waiting for a complete head. `scanned` bytes after the index hold no head end;
        /// `line` is the request line, parsed as soon as its CRLF arrived.
        case head(scanned: Int, line: RequestLine?)
        case fixedBody(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(scanned: Int)
        case endOfMessage
        /// After an error the parser refuses everything: the connection must close.
        case failed(HTTPParseError)
    }

    public let limits: Limits
    private var state: State = .head(scanned: 0, line: nil)

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether the parser is between requests, having consumed nothing of the next one.
    public var isIdle: Bool {
        if case .head(0, nil) = state { return true }
        return false
    }

    /// Parses the next event from `buffer[index...]` and advances `index` past the bytes it used.
    /// - Returns: the event, or nil when the buffer holds too little to produce one.
    public mutating func next(_ buffer: [UInt8], _ index: inout Int) throws(HTTPParseError) -> Event? {
        do {
            return try step(buffer, &index)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step(_ buffer: [UInt8], _ index: inout Int) throws(HTTPParseError) -> Event? {
        switch state {
        case .failed(let error):
            throw error

        case .head(var scanned, var line):
            // RFC 9112 §2.2: ignore empty lines received before the request line.
            if scanned == 0 {
                while index + 1 < buffer.count, buffer[index] == .cr, buffer[index + 1] == .lf { index += 2 }
                if index < buffer.count, buffer[index] == .lf { throw .bad("bare LF before the request line") }
                // A lone CR may be the start of one more empty line: wait for its LF.
                if index + 1 == buffer.count, buffer[index] == .cr { return nil }
            }
            if line == nil {
                // Refuse what cannot be HTTP (a TLS handshake, binary junk) before scanning on;
                // the check looks at the same bytes whether or not the head is complete.
                try checkMethod(buffer[index..<min(buffer.count, index + 33)], complete: false)
            }
            var headLength: Int?
            scan: while true {
                switch try scanHead(buffer, from: index, scanned: &scanned, stopAtFirstLine: line == nil) {
                case .lineEnd(let length):
                    // Errors in the request line come before anything later in the head,
                    // however the bytes were split.
                    line = try parseRequestLine(buffer[index..<index + length])
                case .blankLine(let length):
                    headLength = length
                    break scan
                case .needMore:
                    break scan
                }
            }
            guard let headLength, let line else {
                try checkIncompleteHead(buffer, index, scanned: scanned, line: line)
                state = .head(scanned: scanned, line: line)
                return nil
            }
            let head = try parseHead(buffer, start: index, line: line, headLength: headLength)
            index += headLength
            switch head.framing {
            case .none, .length(0): state = .endOfMessage
            case .length(let n): state = .fixedBody(remaining: n)
            case .chunked: state = .chunkLine
            }
            return .head(head)

        case .fixedBody(let remaining):
            guard let (slice, left) = takeBody(buffer, &index, remaining: remaining) else { return nil }
            state = left == 0 ? .endOfMessage : .fixedBody(remaining: left)
            return .body(slice)

        case .chunkLine:
            guard let lineLength = try findLineEnd(buffer, from: index) else {
                if buffer.count - index > limits.maxChunkLineBytes {
                    throw .bad("chunk-size line longer than \(limits.maxChunkLineBytes) bytes")
                }
                return nil
            }
            guard lineLength <= limits.maxChunkLineBytes else {
                throw .bad("chunk-size line longer than \(limits.maxChunkLineBytes) bytes")
            }
            let size = try parseChunkSize(buffer[index..<index + lineLength])
            index += lineLength + 2
            state = size == 0 ? .trailers(scanned: 0) : .chunkData(remaining: size)
            return try step(buffer, &index)

        case .chunkData(let remaining):
            guard let (slice, left) = takeBody(buffer, &index, remaining: remaining) else { return nil }
            state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
            return .body(slice)

        case .chunkDataEnd:
            guard buffer.count - index >= 2 else {
                if buffer.count - index == 1, buffer[index] != .cr { throw .bad("chunk data not followed by CRLF") }
                return nil
            }
            guard buffer[index] == .cr, buffer[index + 1] == .lf else { throw .bad("chunk data not followed by CRLF") }
            index += 2
            state = .chunkLine
            return try step(buffer, &index)

        case .trailers(var scanned):
            // The last chunk is followed either by CRLF at once or by trailer fields and a blank line.
            if scanned == 0 {
                guard buffer.count - index >= 2 else { return nil }
                if buffer[index] == .cr, buffer[index + 1] == .lf {
                    index += 2
                    state = .head(scanned: 0, line: nil)
                    return .end(trailers: HTTPFields())
                }
            }
            guard case .blankLine(let blockLength) = try scanHead(buffer, from: index, scanned: &scanned, stopAtFirstLine: false) else {
                if scanned > limits.maxHeaderBytes + 4 {
                    throw HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section larger than \(limits.maxHeaderBytes) bytes")
                }
                state = .trailers(scanned: scanned)
                return nil
            }
            guard blockLength - 2 <= limits.maxHeaderBytes else {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "trailer section larger than \(limits.maxHeaderBytes) bytes")
            }
            let trailers = try parseFieldLines(buffer, from: index, to: index + blockLength - 2, what: "trailer")
            index += blockLength
            state = .head(scanned: 0, line: nil)
            return .end(trailers: trailers)

        case .endOfMessage:
            state = .head(scanned: 0, line: nil)
            return .end(trailers: HTTPFields())
        }
    }

    /// Up to `remaining` body bytes from the buffer, and how many are still to come; nil if none arrived.
    private func takeBody(_ buffer: [UInt8], _ index: inout Int, remaining: Int) -> (ArraySlice<UInt8>, Int)? {
        let n = min(buffer.count - index, remaining)
        guard n > 0 else { return nil }
        defer { index += n }
        return (buffer[index..<index + n], remaining - n)
    }

    // MARK: - Scanning

    private enum ScanResult {
        case needMore
        /// The first line of the head ended; its length without CRLF.
        case lineEnd(Int)
        /// The blank line was found; the head's length including it.
        case blankLine(Int)
    }

    /// Looks for the CRLF CRLF that ends a head (or trailer section), refusing bare CR and
    /// bare LF on the way. With `stopAtFirstLine` it returns at the first line's end, so the
    /// caller can check the request line before anything after it.
    private func scanHead(_ buffer: [UInt8], from start: Int, scanned: inout Int, stopAtFirstLine: Bool) throws(HTTPParseError) -> ScanResult {
        var i = start + scanned
        let end = buffer.count
        while i < end {
            let byte = buffer[i]
            if byte == .lf {
                guard i > start, buffer[i - 1] == .cr else { throw .bad("bare LF in the request head; lines must end with CRLF") }
                if i - start >= 3, buffer[i - 2] == .lf, buffer[i - 3] == .cr {
                    scanned = i + 1 - start
                    return .blankLine(i + 1 - start)
                }
                if stopAtFirstLine {
                    scanned = i + 1 - start
                    return .lineEnd(i - 1 - start)
                }
            } else if i > start, buffer[i - 1] == .cr {
                throw .bad("bare CR in the request head")
            }
            i += 1
        }
        scanned = end - start
        return .needMore
    }

    /// Length of the line starting at `start`, without its CRLF, or nil if it is not complete.
    private func findLineEnd(_ buffer: [UInt8], from start: Int) throws(HTTPParseError) -> Int? {
        var i = start
        while i < buffer.count {
            switch buffer[i] {
            case .lf:
                throw .bad("bare LF in chunk framing")
            case .cr:
                guard i + 1 < buffer.count else { return nil }
                guard buffer[i + 1] == .lf else { throw .bad("bare CR in chunk framing") }
                return i - start
            default:
                i += 1
            }
        }
        return nil
    }

    /// Applies the size limits to a head that is not complete yet, so a client cannot make
    /// the server buffer without bound while it waits for the blank line. The checks run in
    /// the same order as for a complete head, so how the bytes were split never changes
    /// which error a request gets.
    private func checkIncompleteHead(_ buffer: [UInt8], _ start: Int, scanned: Int, line: RequestLine?) throws(HTTPParseError) {
        if let line {
            if scanned - line.length > limits.maxHeaderBytes + 4 {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "header section larger than \(limits.maxHeaderBytes) bytes")
            }
        } else if scanned > limits.maxRequestLineBytes {
            throw requestLineTooLong
        }
    }

    private var requestLineTooLong: HTTPParseError {
        HTTPParseError(.uriTooLong, "request line longer than \(limits.maxRequestLineBytes) bytes (targets are limited to \(limits.maxTargetBytes))")
    }

    /// Checks the method token at the start of `line`: a byte that is not a tchar before the
    /// first space is a 400; a token longer than any method we implement is a 501.
    private func checkMethod(_ line: ArraySlice<UInt8>, complete: Bool) throws(HTTPParseError) {
        var length = 0
        for byte in line {
            if byte == .space { break }
            guard isTokenByte(byte) else { throw .bad("the request line does not start with a method token") }
            length += 1
            if length > 32 { throw HTTPParseError(.notImplemented, "method longer than 32 bytes") }
        }
        if complete && length == 0 { throw .bad("the request line does not start with a method token") }
    }

    // MARK: - Head

    private func parseHead(_ buffer: [UInt8], start: Int, line: RequestLine, headLength: Int) throws(HTTPParseError) -> RequestHead {
        let headerStart = start + line.length + 2
        let headerEnd = start + headLength - 2
        guard headerEnd - headerStart <= limits.maxHeaderBytes else {
            throw HTTPParseError(.requestHeaderFieldsTooLarge, "header section larger than \(limits.maxHeaderBytes) bytes")
        }
        let headers = try parseFieldLines(buffer, from: headerStart, to: headerEnd, what: "header")
        return try interpret(method: line.method, target: line.target, version: line.version, headers: headers)
    }

    struct RequestLine: Sendable {
        let method: HTTPMethod
        let target: String
        let version: HTTPVersion
        /// Bytes of the line without its CRLF.
        let length: Int
    }

    /// `method SP request-target SP HTTP-version` (RFC 9112 §3), checked in a fixed order:
    /// method token, line length, shape, version, target, method support.
    private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> RequestLine {
        try checkMethod(line, complete: true)
        guard line.count <= limits.maxRequestLineBytes else { throw requestLineTooLong }
        guard let firstSpace = line.firstIndex(of: .space) else { throw .bad("malformed request line") }
        let methodBytes = line[line.startIndex..<firstSpace]
        let afterMethod = line[(firstSpace + 1)...]
        guard let secondSpace = afterMethod.firstIndex(of: .space) else { throw .bad("malformed request line") }
        let targetBytes = afterMethod[afterMethod.startIndex..<secondSpace]
        let versionBytes = afterMethod[(secondSpace + 1)...]

        let version = try parseVersion(versionBytes)
        guard !targetBytes.isEmpty else { throw .bad("empty request target") }
        guard targetBytes.count <= limits.maxTargetBytes else {
            throw HTTPParseError(.uriTooLong, "request target longer than \(limits.maxTargetBytes) bytes")
        }
        guard targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .bad("request target contains whitespace, control or non-ASCII bytes")
        }
        guard let method = HTTPMethod(bytes: methodBytes) else {
            throw HTTPParseError(.notImplemented, "method \(String(decoding: methodBytes, as: UTF8.self)) is not implemented")
        }
        let target = String(decoding: targetBytes, as: UTF8.self)
        try checkTargetForm(target, method: method)
        return RequestLine(method: method, target: target, version: version, length: line.count)
    }

    private func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8) else { throw .bad("malformed HTTP version") }
        let major = bytes[bytes.startIndex + 5], dot = bytes[bytes.startIndex + 6], minor = bytes[bytes.startIndex + 7]
        guard isDigit(major), dot == UInt8(ascii: "."), isDigit(minor) else { throw .bad("malformed HTTP version") }
        switch (major, minor) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .http1_1
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
        // RFC 9110 §2.5: a later minor version of HTTP/1 is answered as the highest we speak.
        case (UInt8(ascii: "1"), _): return .http1_1
        default:
            let text = String(decoding: bytes, as: UTF8.self)
            throw HTTPParseError(.httpVersionNotSupported, "\(text) is not supported; use HTTP/1.1")
        }
    }

    /// RFC 9112 §3.2: origin-form for every method, `*` only for OPTIONS, absolute-form
    /// with an http(s) scheme. Authority-form belongs to CONNECT, which is not implemented.
    private func checkTargetForm(_ target: String, method: HTTPMethod) throws(HTTPParseError) {
        if target.hasPrefix("/") { return }
        if target == "*" {
            guard method == .options else { throw .bad("asterisk-form target is only allowed with OPTIONS") }
            return
        }
        let lower = target.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") { return }
        throw .bad("request target must start with \"/\"")
    }

    /// Parses field lines between `from` and `to` (each ending in CRLF) into fields.
    private func parseFieldLines(_ buffer: [UInt8], from: Int, to: Int, what: String) throws(HTTPParseError) -> HTTPFields {
        var fields = HTTPFields()
        var lineStart = from
        while lineStart < to {
            // Each line ends in CRLF: the scan refused bare CR and LF before we got here.
            var lineEnd = lineStart
            while buffer[lineEnd] != .cr { lineEnd += 1 }
            let first = buffer[lineStart]
            if first == .space || first == .tab {
                throw .bad("obsolete line folding in the \(what) section is not allowed")
            }
            guard let colon = buffer[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":")) else {
                throw .bad("\(what) line without a colon")
            }
            guard colon > lineStart else { throw .bad("empty \(what) field name") }
            let nameBytes = buffer[lineStart..<colon]
            if let last = nameBytes.last, last == .space || last == .tab {
                throw .bad("whitespace between \(what) field name and colon")
            }
            guard nameBytes.allSatisfy(isTokenByte) else { throw .bad("invalid character in \(what) field name") }
            var valueStart = colon + 1, valueEnd = lineEnd
            while valueStart < valueEnd, buffer[valueStart] == .space || buffer[valueStart] == .tab { valueStart += 1 }
            while valueEnd > valueStart, buffer[valueEnd - 1] == .space || buffer[valueEnd - 1] == .tab { valueEnd -= 1 }
            let valueBytes = buffer[valueStart..<valueEnd]
            guard valueBytes.allSatisfy(isFieldValueByte) else {
                throw .bad("control character in the value of \(what) field \(String(decoding: nameBytes, as: UTF8.self))")
            }
            fields.add(String(decoding: nameBytes, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self))
            guard fields.count <= limits.maxHeaderCount else {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "more than \(limits.maxHeaderCount) \(what) fields")
            }
            lineStart = lineEnd + 2
        }
        return fields
    }

    /// Applies the message-framing and connection rules of RFC 9112 §6 and §9 to a parsed head.
    private func interpret(method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPFields) throws(HTTPParseError) -> RequestHead {
        let hosts = headers.values("Host")
        if version == .http1_1, hosts.isEmpty { throw .bad("missing Host header") }
        if hosts.count > 1 { throw .bad("more than one Host header") }
        if let host = hosts.first, Self.hasForbiddenByte(host) {
            throw .bad("invalid Host header")
        }

        let framing = try bodyFraming(headers, version: version)

        var keepAlive: Bool
        switch version {
        case .http1_1: keepAlive = !headers.containsToken("close", in: "Connection")
        case .http1_0: keepAlive = headers.containsToken("keep-alive", in: "Connection")
        }
        if headers.containsToken("close", in: "Connection") { keepAlive = false }

        var expectsContinue = false
        if let expect = headers["Expect"] {
            guard expect.trimmingOWS().lowercased() == "100-continue" else {
                throw HTTPParseError(.expectationFailed, "unsupported expectation \"\(expect)\"")
            }
            expectsContinue = version == .http1_1
        }

        return RequestHead(
            method: method, target: target, version: version, headers: headers,
            framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue
        )
    }

    private static func hasForbiddenByte(_ host: String) -> Bool {
        host.utf8.withContiguousStorageIfAvailable { $0.contains(where: isForbiddenInHost) }
            ?? host.utf8.contains(where: isForbiddenInHost)
    }

    /// White space, a path, user information, a query or a fragment: none belongs in `Host`.
    /// A switch, not a search of a string of them: this runs for every byte of every request's host.
    private static func isForbiddenInHost(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "@"), UInt8(ascii: "?"), UInt8(ascii: "#"): true
        default: false
        }
    }

    private func bodyFraming(_ headers: HTTPFields, version: HTTPVersion) throws(HTTPParseError) -> BodyFraming {
        let encodings = headers.values("Transfer-Encoding")
        let lengths = headers.values("Content-Length")
        if !encodings.isEmpty {
            // RFC 9112 §6.1: both present is a smuggling attempt, and HTTP/1.0 has no chunked framing.
            guard lengths.isEmpty else { throw .bad("both Transfer-Encoding and Content-Length are present") }
            guard version == .http1_1 else { throw .bad("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = encodings.flatMap { $0.split(separator: ",").map { $0.trimmingOWS().lowercased() } }
            guard codings.last == "chunked" else { throw .bad("the final transfer coding must be chunked") }
            guard codings.count == 1 else {
                if codings.dropLast().contains("chunked") { throw .bad("chunked transfer coding applied more than once") }
                throw HTTPParseError(.notImplemented, "transfer coding \(codings[0]) is not implemented")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        // RFC 9110 §8.6: a list of identical values may be accepted; differing values may not.
        var value: Int?
        for element in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let digits = element.trimmingOWS()
            guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit) else { throw .bad("Content-Length is not a number") }
            guard digits.utf8.count <= 15, let n = Int(digits) else { throw .bad("Content-Length is too large") }
            if let value, value != n { throw .bad("conflicting Content-Length values") }
            value = n
        }
        return .length(value ?? 0)
    }

    // MARK: - Chunks

    /// Parses `chunk-size [ chunk-ext ]` (RFC 9112 §7.1). Extensions are checked for
    /// syntax and ignored, as the RFC allows.
    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0, digits = 0
        var i = line.startIndex
        while i < line.endIndex, let v = hexValue(line[i]) {
            digits += 1
            guard digits <= 15 else { throw .bad("chunk size too large") }
            size = size << 4 | Int(v)
            i += 1
        }
        guard digits > 0 else { throw .bad("invalid chunk size") }
        let ext = line[i...]
        if !ext.isEmpty {
            let firstNonBlank = ext.first { $0 != .space && $0 != .tab }
            guard firstNonBlank == UInt8(ascii: ";") else { throw .bad("invalid chunk size") }
            guard ext.allSatisfy(isFieldValueByte) else { throw .bad("control character in chunk extension") }
        }
        return size
    }
}

// MARK: - Byte classes (RFC 9110 §5.6.2, §5.5)

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

/// tchar: the bytes allowed in a method and a field name.
private let tokenTable: [Bool] = (0..<256).map { b in
    let c = UInt8(b)
    if isDigit(c) { return true }
    if (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") { return true }
    return "!#$%&'*+-.^_`|~".utf8.contains(c)
}

@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

/// field-vchar, SP and HTAB; obs-text (0x80–0xFF) is allowed, every other control byte is not.
@inline(__always)
func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte == .tab || (byte >= 0x20 && byte != 0x7F)
}
