#if canImport(Glibc)
import Glibc
#endif

/// One Server-Sent Events frame (HTML Living Standard §9.2, "event stream" format).
public struct ServerSentEvent: Sendable, Hashable {
    public var event: String?
    public var id: String?
    public var data: String
    /// Reconnection delay hint in milliseconds.
    public var retry: Int?

    public init(event: String? = nil, id: String? = nil, data: String, retry: Int? = nil) {
        self.event = event
        self.id = id
        self.data = data
        self.retry = retry
    }

    /// The frame on the wire. `data` is split at every line break (CRLF, LF or CR) into one
    /// `data:` line each, so a client reassembles exactly the same text. Line breaks in
    /// `event` and `id` would end the field early and inject another one, so they become
    /// spaces; a NUL in `id` would make clients ignore it, so it is dropped.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.utf8.count + 32)
        if let event {
            out.append(contentsOf: "event: ".utf8)
            appendSingleLine(event, to: &out)
            out.append(.lf)
        }
        if let id {
            out.append(contentsOf: "id: ".utf8)
            appendSingleLine(id, to: &out, dropNUL: true)
            out.append(.lf)
        }
        if let retry {
            out.append(contentsOf: "retry: \(retry)\n".utf8)
        }
        appendData(data, to: &out)
        out.append(.lf)
        return out
    }

    /// A comment frame (`: text`), which clients ignore; used to keep idle connections open.
    public static func comment(_ text: String) -> [UInt8] {
        var out: [UInt8] = Array(": ".utf8)
        appendSingleLine(text, to: &out)
        out.append(contentsOf: "\n\n".utf8)
        return out
    }
}

private func appendSingleLine(_ text: String, to out: inout [UInt8], dropNUL: Bool = false) {
    for byte in text.utf8 {
        switch byte {
        case .cr, .lf: out.append(.space)
        case 0 where dropNUL: continue
        default: out.append(byte)
        }
    }
}

/// Whether `text` holds a CR or LF, found with `memchr` where the text is contiguous (a
/// closure per byte cost as much as the rest of writing an answer's last event).
private func hasLineBreak(_ text: String) -> Bool {
    let found = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
        guard let base = bytes.baseAddress else { return false }
        return memchr(base, 0x0A, bytes.count) != nil || memchr(base, 0x0D, bytes.count) != nil
    }
    return found ?? text.utf8.contains { $0 == .cr || $0 == .lf }
}

private func appendData(_ text: String, to out: inout [UInt8]) {
    out.append(contentsOf: "data: ".utf8)
    // JSON data (every event parley sends) has no line break: one copy, not a byte at a time.
    if !hasLineBreak(text) {
        out.append(contentsOf: text.utf8)
        out.append(.lf)
        return
    }
    var previousWasCR = false
    for byte in text.utf8 {
        switch byte {
        case .cr:
            out.append(contentsOf: "\ndata: ".utf8)
            previousWasCR = true
            continue
        case .lf:
            if !previousWasCR { out.append(contentsOf: "\ndata: ".utf8) }
        default:
            out.append(byte)
        }
        previousWasCR = false
    }
    out.append(.lf)
}
