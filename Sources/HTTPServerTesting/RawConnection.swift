#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A deliberately impolite HTTP client on a blocking socket: it sends exactly the bytes it is
/// given and reads exactly what comes back, so tests can send what no real client would.
/// Every read has a timeout, so a server that hangs fails the test instead of stalling it.
/// Use it inside `blocking { }`.
public final class RawConnection {
    public let fd: Int32
    private var buffer: [UInt8] = []

    public enum Failure: Error, CustomStringConvertible {
        case connect(String)
        case timedOut(String)
        case closed(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .connect(let s): "connect: \(s)"
            case .timedOut(let s): "timed out: \(s)"
            case .closed(let s): "connection closed: \(s)"
            case .malformed(let s): "malformed response: \(s)"
            }
        }
    }

    /// Connects to `host:port`; `receiveBufferSize` shrinks the kernel buffer to make a slow reader.
    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 5, receiveBufferSize: Int32? = nil) throws {
        let family = host.contains(":") ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect("socket() failed") }
        if let size = receiveBufferSize {
            var value = size
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        setTimeout(timeout)
        let result: Int32
        if family == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            let code = errno
            // Through `close()`, which marks it closed: the deinit of this half-built connection
            // runs after the throw, and a second close would take whatever descriptor another
            // thread has been given the same number in between.
            close()
            throw Failure.connect("\(host):\(port): errno \(code)")
        }
    }

    private var isOpen = true

    deinit {
        close()
    }

    /// Closes the socket (once), as a client that goes away does.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    public func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends text with `\n` turned into CRLF, so tests can be written with plain newlines.
    public func send(crlf text: String) throws {
        try send(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw Failure.closed("send failed, errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    @discardableResult
    private func fill(max: Int = 65536) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: max)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        if n == 0 { return false }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure.timedOut("no data within the timeout") }
        if errno == ECONNRESET { return false }
        throw Failure.closed("recv errno \(errno)")
    }

    /// Reads at most `max` bytes, waiting for at least one; empty at end of stream.
    public func readSome(max: Int = 65536) throws -> [UInt8] {
        if buffer.isEmpty { _ = try fill(max: max) }
        let n = Swift.min(max, buffer.count)
        let out = Array(buffer[0..<n])
        buffer.removeFirst(n)
        return out
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[0...i]
                buffer.removeFirst(i + 1)
                return String(decoding: line, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
            }
            guard try fill() else { throw Failure.closed("while reading a line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw Failure.closed("body ended after \(buffer.count) of \(count) bytes") }
        }
        let out = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Reads one response. `head: true` means the request was HEAD: no body follows.
    public func readResponse(head: Bool = false) throws -> RawResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure.malformed("status line \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure.malformed("header \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = RawResponse(status: status, headers: headers, body: [])
        if head || status < 200 || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw Failure.malformed("chunk size \(sizeLine)") }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                response.body += try readExactly(size)
                guard try readLine().isEmpty else { throw Failure.malformed("chunk not followed by CRLF") }
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try readExactly(length)
        } else {
            while try fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    /// Reads until the server closes; returns whatever arrived. Throws if it stays open past the timeout.
    public func readUntilClosed() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// Whether the server closed the connection (end of stream or reset) within the timeout.
    public func isClosedByPeer() -> Bool {
        do {
            while try fill() {}
            return true
        } catch {
            return false
        }
    }
}

/// A response as read off the wire.
public struct RawResponse: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}
