/// The common streamed chunk — one choice whose delta is only text, no finish reason, no
/// usage, no error — read without a JSON decoder. Decoding every chunk with `JSONDecoder` was
/// the largest single cost of a streamed answer in profiles (about an eighth of the server's
/// CPU); anything that is not plainly this shape returns nil and goes to the full decoder.
enum ChunkFastPath {
    private static let contentKey = Array(#""delta":{"content":""#.utf8)
    private static let plainEnd = Array(#""},"finish_reason":null}]"#.utf8)

    static func delta(_ data: String) -> String? {
        let utf8 = Array(data.utf8)
        guard let start = find(contentKey, in: utf8, from: 0),
              find(contentKey, in: utf8, from: start + contentKey.count) == nil,  // one choice only
              !contains(#""usage":{"#, utf8), !contains(#""error""#, utf8), !contains(#""tool_calls""#, utf8) else { return nil }
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

    private static func contains(_ needle: String, _ haystack: [UInt8]) -> Bool {
        find(Array(needle.utf8), in: haystack, from: 0) != nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count - from else { return nil }
        var i = from
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
