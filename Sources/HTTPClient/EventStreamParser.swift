#if canImport(Glibc)
import Glibc
#endif

/// One event of an upstream `text/event-stream`.
public struct StreamEvent: Sendable, Equatable {
    public var event: String
    public var data: String
    public var id: String?

    public init(event: String = "message", data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// Parses a Server-Sent Events stream as the HTML standard's "event stream interpretation"
/// says (§9.2.6): lines end in CRLF, LF or CR; `:` starts a comment; `data` lines of one
/// event are joined with LF; a blank line dispatches; an event with no data is dropped.
///
/// It is fed bytes in whatever pieces the network delivers, and returns the events those
/// bytes completed: splitting never changes the result (tests feed every fixture at every
/// offset). A line longer than `maxLineBytes` is an error, so a broken upstream cannot make
/// it buffer without bound.
public struct EventStreamParser: Sendable {
    public struct LineTooLong: Error, Equatable {}

    public let maxLineBytes: Int
    private var line: [UInt8] = []
    private var afterCR = false
    private var atStart = true
    private var eventType = ""
    private var data: [String] = []
    private var hasData = false
    private var lastID: String?

    public init(maxLineBytes: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Consumes `bytes`; returns the events they completed, in order.
    ///
    /// Concrete over an array, and finding line ends with `memchr` rather than stepping byte by
    /// byte: a generic `Sequence` is not specialised across modules, and its per-byte witness
    /// calls were the largest single cost of relaying a token. A line that arrives whole (the
    /// usual case) is read where it lies, without a copy into the line buffer.
    public mutating func feed(_ bytes: [UInt8]) throws -> [StreamEvent] {
        var events: [StreamEvent] = []
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
            let end = buffer.count
            var index = 0
            if afterCR {
                afterCR = false
                if buffer[0] == 0x0A { index = 1 }  // the LF of a CRLF split across pieces
            }
            while index < end {
                guard let stop = Self.lineEnd(base, from: index, to: end) else {
                    try appendToLine(UnsafeBufferPointer(rebasing: buffer[index..<end]))
                    break
                }
                if line.isEmpty {
                    if let event = endLine(UnsafeBufferPointer(rebasing: buffer[index..<stop])) { events.append(event) }
                } else {
                    try appendToLine(UnsafeBufferPointer(rebasing: buffer[index..<stop]))
                    // Moved out while it is read: `endLine` changes the parser's other state.
                    var whole: [UInt8] = []
                    swap(&whole, &line)
                    if let event = whole.withUnsafeBufferPointer({ endLine($0) }) { events.append(event) }
                    whole.removeAll(keepingCapacity: true)
                    line = whole
                }
                index = stop + 1
                if buffer[stop] == 0x0D {
                    if index == end {
                        afterCR = true
                    } else if buffer[index] == 0x0A {
                        index += 1
                    }
                }
            }
        }
        return events
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [StreamEvent] {
        try feed(Array(bytes))
    }

    /// Where the line that starts at `from` ends: its first CR or LF, nil if neither comes
    /// before `end`.
    private static func lineEnd(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) -> Int? {
        let lf = memchr(base + from, 0x0A, end - from).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
        let limit = lf ?? end
        if let cr = memchr(base + from, 0x0D, limit - from) { return base.distance(to: cr.assumingMemoryBound(to: UInt8.self)) }
        return lf
    }

    private mutating func appendToLine(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        line.append(contentsOf: bytes)
        if line.count > maxLineBytes { throw LineTooLong() }
    }

    /// Ends one line; returns the event a blank line dispatches, if any.
    private mutating func endLine(_ whole: UnsafeBufferPointer<UInt8>) -> StreamEvent? {
        var line = whole
        if atStart {
            atStart = false
            if line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF { line = UnsafeBufferPointer(rebasing: line[3...]) }  // a UTF-8 BOM
        }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }  // comment
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
        let field = UnsafeBufferPointer(rebasing: line[..<colon])
        func value() -> String {
            guard colon < line.count else { return "" }
            var start = colon + 1
            if start < line.count, line[start] == UInt8(ascii: " ") { start += 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: line[start...]), as: UTF8.self)
        }
        if field.elementsEqual("data".utf8) {
            data.append(value())
            hasData = true
        } else if field.elementsEqual("event".utf8) {
            eventType = value()
        } else if field.elementsEqual("id".utf8) {
            let id = value()
            if !id.utf8.contains(0) { lastID = id }
        }
        // `retry` and unknown fields do not matter to a server-side client.
        return nil
    }

    private mutating func dispatch() -> StreamEvent? {
        defer {
            eventType = ""
            data = []
            hasData = false
        }
        guard hasData else { return nil }
        // Almost every event has one data line: no join (and no copy) for it.
        return StreamEvent(event: eventType.isEmpty ? "message" : eventType, data: data.count == 1 ? data[0] : data.joined(separator: "\n"), id: lastID)
    }
}
