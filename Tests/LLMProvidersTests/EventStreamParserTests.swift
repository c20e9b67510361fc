import HTTPClient
import LLMProviders
import Testing

@Suite(.timeLimit(.minutes(5))) struct EventStreamParserTests {
    func parse(_ text: String, pieces: [Int] = []) throws -> [StreamEvent] {
        var parser = EventStreamParser()
        let bytes = Array(text.utf8)
        var events: [StreamEvent] = []
        var offset = 0
        var cuts = pieces
        while offset < bytes.count {
            let size = cuts.isEmpty ? bytes.count - offset : min(cuts.removeFirst(), bytes.count - offset)
            events += try parser.feed(bytes[offset..<offset + size])
            offset += size
        }
        return events
    }

    static let openAIStream = """
    : OPENROUTER PROCESSING\r
    \r
    data: {"choices":[{"delta":{"content":"Hel"}}]}\r
    \r
    data: {"choices":[{"delta":{"content":"lo"}}]}

    event: ping
    data:

    id: 7
    data: first line
    data: second line
    retry: 100

    data: [DONE]


    """

    @Test func parsesTheSameAtEverySplit() throws {
        let whole = try parse(Self.openAIStream)
        #expect(whole == [
            StreamEvent(data: #"{"choices":[{"delta":{"content":"Hel"}}]}"#),
            StreamEvent(data: #"{"choices":[{"delta":{"content":"lo"}}]}"#),
            StreamEvent(event: "ping", data: ""),
            StreamEvent(data: "first line\nsecond line", id: "7"),
            StreamEvent(data: "[DONE]", id: "7"),
        ])
        let count = Self.openAIStream.utf8.count
        for cut in 1..<count {
            #expect(try parse(Self.openAIStream, pieces: [cut]) == whole, "split at \(cut)")
        }
        #expect(try parse(Self.openAIStream, pieces: Array(repeating: 1, count: count)) == whole)
    }

    /// CRLF, CR and LF line ends read alike however the bytes are cut, a CRLF split between
    /// two reads included (the parser scans a read for line ends, not byte by byte).
    @Test func lineEndsReadAlikeInPiecesOfEverySize() throws {
        let text = "data: a\r\n\r\ndata: b\rdata: c\r\rid: 7\ndata: d\n\n: note\r\ndata: e\r\n\r\n"
        let whole = try parse(text)
        // The last event id stays until another is given (WHATWG's "last event ID buffer").
        #expect(whole == [StreamEvent(data: "a"), StreamEvent(data: "b\nc"), StreamEvent(data: "d", id: "7"), StreamEvent(data: "e", id: "7")])
        for size in 1..<text.utf8.count {
            #expect(try parse(text, pieces: Array(repeating: size, count: text.utf8.count)) == whole, "pieces of \(size) bytes")
        }
    }

    /// An empty read (its array with room to spare) after a CR that ended a line: the LF of a
    /// CRLF may still come, and nothing else changes.
    @Test func anEmptyPieceAfterACarriageReturnChangesNothing() throws {
        var parser = EventStreamParser()
        var empty: [UInt8] = []
        empty.reserveCapacity(16)
        #expect(try parser.feed(Array("data: a\r".utf8)).isEmpty)
        #expect(try parser.feed(empty).isEmpty)
        #expect(try parser.feed(Array("\n\r\n".utf8)) == [StreamEvent(data: "a")])
    }

    @Test func crAloneEndsLines() throws {
        #expect(try parse("data: a\rdata: b\r\r") == [StreamEvent(data: "a\nb")])
    }

    @Test func byteOrderMarkAndFieldWithoutColon() throws {
        #expect(try parse("\u{FEFF}data\n\ndata:x\n\n") == [StreamEvent(data: ""), StreamEvent(data: "x")])
    }

    @Test func eventWithoutDataIsNotDispatched() throws {
        #expect(try parse("event: x\n\n: comment\n\n") == [])
    }

    @Test func unterminatedEventIsNotDispatched() throws {
        #expect(try parse("data: partial\n") == [])
    }

    @Test func overlongLineIsAnError() {
        var parser = EventStreamParser(maxLineBytes: 16)
        #expect(throws: EventStreamParser.LineTooLong.self) { _ = try parser.feed(Array(repeating: UInt8(ascii: "a"), count: 17)) }
    }

    @Test func multiByteCharactersSplitAcrossReads() throws {
        let text = "data: héllo → 世界\n\n"
        for cut in 1..<text.utf8.count {
            #expect(try parse(text, pieces: [cut]) == [StreamEvent(data: "héllo → 世界")])
        }
    }
}
