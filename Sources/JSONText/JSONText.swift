/// JSON strings written straight into bytes (RFC 8259 §7), for every place parley writes JSON
/// by hand: the server's documents and events, and the requests it sends upstream.

/// Quotes and escapes a string as a JSON string literal (RFC 8259 §7).
public func jsonQuoted(_ text: String) -> String {
    var text = text
    // Most text needs no escape: one scan of its bytes and one copy.
    let plain = text.withUTF8 { bytes in !bytes.contains(where: needsEscape) }
    if plain { return "\"\(text)\"" }
    var out: [UInt8] = []
    appendJSONQuoted(text, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Appends `text` as a JSON string literal: quotation mark, reverse solidus and the control
/// characters escaped, everything else as its UTF-8. Runs of bytes that need no escape are
/// copied whole (a byte at a time, the copy cost more than finding them).
public func appendJSONQuoted(_ text: String, to out: inout [UInt8]) {
    var text = text
    text.withUTF8 { bytes in
        out.reserveCapacity(out.count + bytes.count + 2)
        out.append(UInt8(ascii: "\""))
        var run = 0
        for index in bytes.indices where needsEscape(bytes[index]) {
            if run < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index])) }
            run = index + 1
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            default:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            }
        }
        if run < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...])) }
        out.append(UInt8(ascii: "\""))
    }
}

@inline(__always)
private func needsEscape(_ byte: UInt8) -> Bool {
    byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
