// libFuzzer entry point for the request parser. Built by fuzz/run.sh together with the
// parser's sources (no other module), with -sanitize=fuzzer,address.
//
// Beyond "does not crash", each input checks a property: feeding the bytes whole and
// feeding them split at an input-derived offset must give the same requests or the same
// error. A difference traps, and libFuzzer saves the input.

/// Everything the parser reported, flattened to text for comparison.
private func transcript(_ bytes: [UInt8], splitAt cut: Int) -> [String] {
    var parser = RequestParser()
    var buffer: [UInt8] = []
    var index = 0
    var events: [String] = []
    var body: [UInt8] = []
    for piece in [bytes[..<cut], bytes[cut...]] {
        buffer.append(contentsOf: piece)
        do {
            while let event = try parser.next(buffer, &index) {
                switch event {
                case .head(let head):
                    events.append("head \(head.method.rawValue) \(head.target) \(head.version) \(head.framing) \(head.keepAlive) \(Array(head.headers).map { "\($0.name)=\($0.value)" })")
                case .body(let slice):
                    body.append(contentsOf: slice)
                case .end(let trailers):
                    events.append("end \(body.count) \(body.hashValue) \(Array(trailers).count)")
                    body = []
                }
            }
        } catch {
            events.append("error \(error.status.code)")
            return events
        }
    }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = transcript(bytes, splitAt: bytes.count)
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    let split = transcript(bytes, splitAt: cut)
    // A split can only end a transcript early when it stops mid-request; compare what both saw.
    let common = min(whole.count, split.count)
    precondition(Array(whole.prefix(common)) == Array(split.prefix(common)), "split at \(cut) changed the parse")
    precondition(whole.count == split.count, "split at \(cut) changed the number of events")
    return 0
}
