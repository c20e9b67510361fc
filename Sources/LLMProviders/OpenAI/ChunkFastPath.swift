#if canImport(Glibc)
import Glibc
#endif

/// The common streamed chunk — one choice whose delta is only text, no finish reason, no
/// usage, no error — read without a JSON decoder. Decoding every chunk with `JSONDecoder` was
/// the largest single cost of a streamed answer in profiles (about an eighth of the server's
/// CPU); anything that is not plainly this shape returns nil and goes to the full decoder.
enum ChunkFastPath {
    private static let contentKey = Array(#""delta":{"content":""#.utf8)
    private static let plainEnd = Array(#""},"finish_reason":null}]"#.utf8)

    static func delta(_ data: String) -> String? {
        var data = data
        // Contiguous UTF-8 in place (a copy only for a bridged or small string).
        return data.withUTF8 { delta(in: $0) }
    }

    private static func delta(in utf8: UnsafeBufferPointer<UInt8>) -> String? {
        guard let start = contentStart(in: utf8) else { return nil }
        var i = start + contentKey.count
        let first = i
        // Text without escapes (the usual token) is validated where it lies, without a copy.
        while i < utf8.count, utf8[i] != UInt8(ascii: "\""), utf8[i] != UInt8(ascii: "\\"), utf8[i] >= 0x20 { i += 1 }
        if i < utf8.count, utf8[i] == UInt8(ascii: "\"") {
            guard matches(plainEnd, in: utf8, at: i) else { return nil }
            return String(validating: UnsafeBufferPointer(rebasing: utf8[first..<i]), as: UTF8.self)
        }
        var text = Array(utf8[first..<i])
        while i < utf8.count {
            let byte = utf8[i]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                guard i + 1 < utf8.count else { return nil }
                switch utf8[i + 1] {
                case UInt8(ascii: "\""): text.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): text.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): text.append(UInt8(ascii: "/"))
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "r"): text.append(0x0D)
                default: return nil  // \u escapes, \b, \f: rare, leave them to the decoder
                }
                i += 2
                continue
            }
            if byte < 0x20 { return nil }
            text.append(byte)
            i += 1
        }
        // The closing quote must begin exactly the end of a plain delta.
        guard i < utf8.count, matches(plainEnd, in: utf8, at: i) else { return nil }
        return String(validating: text, as: UTF8.self)
    }

    private static let usageKey = Array(#""usage":{"#.utf8)
    private static let errorKey = Array(#""error""#.utf8)
    private static let toolCallsKey = Array(#""tool_calls""#.utf8)

    /// One pass over the quotation marks: the key of the one text delta, and none of the keys
    /// that need the full decoder (usage, an error, tool calls). Nil unless exactly that.
    private static func contentStart(in utf8: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = utf8.baseAddress else { return nil }
        var start: Int?
        var from = 0
        // From quotation mark to quotation mark with memchr (a byte-by-byte loop was a
        // twentieth of relaying a token).
        while from < utf8.count - 1, let found = memchr(base + from, Int32(UInt8(ascii: "\"")), utf8.count - 1 - from) {
            let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            from = index + 1
            switch utf8[index + 1] {
            case UInt8(ascii: "d"):
                guard matches(contentKey, in: utf8, at: index) else { continue }
                guard start == nil else { return nil }  // one choice only
                start = index
            case UInt8(ascii: "u"):
                if matches(usageKey, in: utf8, at: index) { return nil }
            case UInt8(ascii: "e"):
                if matches(errorKey, in: utf8, at: index) { return nil }
            case UInt8(ascii: "t"):
                if matches(toolCallsKey, in: utf8, at: index) { return nil }
            default:
                continue
            }
        }
        return start
    }

    private static func matches(_ key: [UInt8], in utf8: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        guard utf8.count - index >= key.count else { return false }
        for offset in key.indices where utf8[index + offset] != key[offset] { return false }
        return true
    }
}
