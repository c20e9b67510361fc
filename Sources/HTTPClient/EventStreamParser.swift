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
    /// Concrete over an array, and scanning for line ends rather than stepping byte by byte: a
    /// generic `Sequence` is not specialised across modules, and its per-byte witness calls
    /// were the largest single cost of relaying a token.
    public mutating func feed(_ bytes: [UInt8]) throws -> [StreamEvent] {
        var events: [StreamEvent] = []
        var index = bytes.startIndex
        let end = bytes.endIndex
        if afterCR, index < end {
            afterCR = false
            if bytes[index] == 0x0A { index += 1 }  // the LF of a CRLF split across pieces
        }
        while index < end {
            guard let stop = bytes[index..<end].firstIndex(where: { $0 == 0x0D || $0 == 0x0A }) else {
                try appendToLine(bytes[index..<end])
                break
            }
            try appendToLine(bytes[index..<stop])
            if let event = endLine() { events.append(event) }
            index = stop + 1
            if bytes[stop] == 0x0D {
                if index == end {
                    afterCR = true
                } else if bytes[index] == 0x0A {
                    index += 1
                }
            }
        }
        return events
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [StreamEvent] {
        try feed(Array(bytes))
    }

    private mutating func appendToLine(_ bytes: ArraySlice<UInt8>) throws {
        line.append(contentsOf: bytes)
        if line.count > maxLineBytes { throw LineTooLong() }
    }

    /// Ends one line; returns the event a blank line dispatches, if any.
    private mutating func endLine() -> StreamEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }  // a UTF-8 BOM
        }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }  // comment
        let field: String, value: String
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = colon + 1
            if start < line.count, line[start] == UInt8(ascii: " ") { start += 1 }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event": eventType = value
        case "data":
            data.append(value)
            hasData = true
        case "id" where !value.contains("\0"): lastID = value
        default: break  // `retry` and unknown fields do not matter to a server-side client
        }
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
