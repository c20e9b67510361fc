/// JSON strings written straight into bytes (RFC 8259 §7), for every place parley writes JSON
/// by hand: the server's documents and events, and the requests it sends upstream.

/// Quotes and escapes a string as a JSON string literal (RFC 8259 §7).
public func jsonQuoted(_ text: String) -> String {
    // Most text needs no escape: one scan of its bytes and one copy.
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return "\"\(text)\"" }
    var out: [UInt8] = []
    appendJSONQuoted(text, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Appends `text` as a JSON string literal: quotation mark, reverse solidus and the control
/// characters escaped, everything else as its UTF-8.
public func appendJSONQuoted(_ text: String, to out: inout [UInt8]) {
    out.reserveCapacity(out.count + text.utf8.count + 2)
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0..<0x20:
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                    hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
