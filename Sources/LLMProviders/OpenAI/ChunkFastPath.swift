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
        guard let start = find(contentKey, in: utf8, from: 0),
              find(contentKey, in: utf8, from: start + contentKey.count) == nil,  // one choice only
              !contains(usageKey, utf8), !contains(errorKey, utf8), !contains(toolCallsKey, utf8) else { return nil }
        var text: [UInt8] = []
        var i = start + contentKey.count
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
        guard i < utf8.count, find(plainEnd, in: utf8, from: i) == i else { return nil }
        return String(validating: text, as: UTF8.self)
    }

    private static let usageKey = Array(#""usage":{"#.utf8)
    private static let errorKey = Array(#""error""#.utf8)
    private static let toolCallsKey = Array(#""tool_calls""#.utf8)

    private static func contains(_ needle: [UInt8], _ haystack: UnsafeBufferPointer<UInt8>) -> Bool {
        find(needle, in: haystack, from: 0) != nil
    }

    /// `memchr` to each candidate first byte, `memcmp` for the rest (both vectorised in libc)
    /// rather than a byte loop: every chunk is searched four times.
    private static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard !needle.isEmpty, from <= haystack.count, let start = haystack.baseAddress else { return nil }
        return needle.withUnsafeBytes { needle -> Int? in
            guard let needleStart = needle.baseAddress else { return nil }
            let first = Int32(needle[0])
            var offset = from
            while haystack.count - offset >= needle.count {
                guard let hit = memchr(start + offset, first, haystack.count - offset - needle.count + 1) else { return nil }
                let index = start.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(start + index, needleStart, needle.count) == 0 { return index }
                offset = index + 1
            }
            return nil
        }
    }
}
