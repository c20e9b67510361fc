// libFuzzer entry point for the upstream event-stream parser, which reads bytes from the
// network. Built by fuzz/run.sh with EventStreamParser.swift alone.
//
// Properties: no crash; feeding the bytes whole, split at an input-derived offset, or one byte
// at a time gives the same outcome (a line over the limit fails in all) and, when no line is
// over it, the same events.

private func events(_ bytes: [UInt8], pieces: [ArraySlice<UInt8>]) -> (events: [StreamEvent], tooLong: Bool) {
    var parser = EventStreamParser(maxLineBytes: 512)
    var out: [StreamEvent] = []
    for piece in pieces {
        do {
            out += try parser.feed(Array(piece))
        } catch {
            return (out, true)
        }
    }
    return (out, false)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventStream(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = events(bytes, pieces: [bytes[...]])
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    let split = events(bytes, pieces: [bytes[..<cut], bytes[cut...]])
    let single = events(bytes, pieces: bytes.indices.map { bytes[$0...$0] })
    precondition(whole.tooLong == split.tooLong && whole.tooLong == single.tooLong, "splitting changed whether a line was too long")
    // Past an over-long line a feed throws, dropping what it completed; compare clean runs.
    if !whole.tooLong {
        precondition(whole.events == split.events, "split at \(cut) changed the events")
        precondition(whole.events == single.events, "byte-by-byte feeding changed the events")
    }
    return 0
}
