/// Chunked transfer coding for response bodies (RFC 9112 §7.1).
///
/// An empty chunk is never produced for data: `0\r\n\r\n` is the end of the body, and a
/// peer would take an empty write for it.
enum ChunkedEncoder {
    static let terminator: [UInt8] = Array("0\r\n\r\n".utf8)

    /// Appends `bytes` as one chunk; does nothing for an empty buffer.
    static func appendChunk(_ bytes: [UInt8], to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        appendHex(bytes.count, to: &out)
        out.append(.cr)
        out.append(.lf)
        out.append(contentsOf: bytes)
        out.append(.cr)
        out.append(.lf)
    }

    private static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            out.append(digits[(value >> shift) & 0xF])
            shift -= 4
        }
    }
}
