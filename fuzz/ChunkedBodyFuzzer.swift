// libFuzzer entry point for the chunked body decoder: the input is what follows a request head
// that declares `Transfer-Encoding: chunked`. Built by fuzz/run.sh with the wire layer only.
//
// Properties: no crash; the decoded body is never longer than the input; feeding the bytes
// whole and split at an input-derived offset gives the same body, trailers and outcome; and
// a body that decodes matches a plain reference decoding of the same bytes.

private let head = Array("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

/// What the parser made of the body: its bytes and trailer count, or the error's status.
private func decode(_ input: [UInt8], splitAt cut: Int) -> (body: [UInt8], trailers: Int, error: Int?, ended: Bool) {
    var parser = RequestParser()
    var buffer: [UInt8] = []
    var index = 0
    var body: [UInt8] = []
    let bytes = head + input
    let cut = head.count + cut
    for piece in [bytes[..<cut], bytes[cut...]] {
        buffer.append(contentsOf: piece)
        do {
            while let event = try parser.next(buffer, &index) {
                switch event {
                case .head: break
                case .body(let slice): body.append(contentsOf: slice)
                case .end(let trailers): return (body, Array(trailers).count, nil, true)
                }
            }
        } catch {
            return (body, 0, Int(error.status.code), false)
        }
    }
    return (body, 0, nil, false)
}

/// A direct reading of RFC 9112 §7.1 for well-formed input: hex size, optional extensions,
/// CRLF, data, CRLF, until a zero size. Nil where the input is not that simple shape.
private func reference(_ bytes: [UInt8]) -> [UInt8]? {
    var i = 0, out: [UInt8] = []
    while true {
        var size = 0, digits = 0
        while i < bytes.count, let v = hexValue(bytes[i]) {
            size = size * 16 + Int(v)
            digits += 1
            i += 1
            if digits > 8 { return nil }
        }
        guard digits > 0 else { return nil }
        while i < bytes.count, bytes[i] != UInt8(ascii: "\r") { i += 1 }
        guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\n") else { return nil }
        i += 2
        if size == 0 { return out }
        guard i + size + 2 <= bytes.count, bytes[i + size] == UInt8(ascii: "\r"), bytes[i + size + 1] == UInt8(ascii: "\n") else { return nil }
        out += bytes[i..<(i + size)]
        i += size + 2
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChunkedBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = decode(input, splitAt: input.count)
    let cut = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
    let split = decode(input, splitAt: cut)
    precondition(whole.body.count <= input.count, "decoded more bytes than were sent")
    precondition(whole.error == split.error && whole.ended == split.ended, "split at \(cut) changed the outcome")
    if whole.ended {
        precondition(whole.body == split.body && whole.trailers == split.trailers, "split at \(cut) changed the decoded body")
    }
    if whole.ended, let expected = reference(input) {
        precondition(whole.body == expected, "the decoder and the reference disagree")
    }
    return 0
}
