import HTTPServer
import Testing

@Suite(.timeLimit(.minutes(5))) struct ServerSentEventTests {
    func text(_ event: ServerSentEvent) -> String { String(decoding: event.encoded(), as: UTF8.self) }

    @Test func singleLineEvent() {
        #expect(text(ServerSentEvent(event: "token", id: "12", data: "{\"delta\":\"hi\"}")) == "event: token\nid: 12\ndata: {\"delta\":\"hi\"}\n\n")
    }

    @Test(arguments: [("a\nb", "data: a\ndata: b\n\n"), ("a\r\nb", "data: a\ndata: b\n\n"), ("a\rb", "data: a\ndata: b\n\n"),
                      ("a\n\nb", "data: a\ndata: \ndata: b\n\n"), ("end\n", "data: end\ndata: \n\n"), ("", "data: \n\n")])
    func multiLineDataBecomesSeveralDataLines(_ input: String, _ expected: String) {
        #expect(text(ServerSentEvent(data: input)) == expected)
    }

    /// A client joins data lines with LF; whatever the server sent must come back the same
    /// (up to line-break style, which SSE normalises).
    @Test func clientReassemblyRestoresData() {
        let original = "line one\nline two\n\nline four"
        let wire = text(ServerSentEvent(data: original))
        let reassembled = wire.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }.joined(separator: "\n")
        #expect(reassembled == original)
    }

    @Test func lineBreaksCannotInjectFields() {
        let wire = text(ServerSentEvent(event: "a\nevent: evil", id: "1\ndata: x\0", data: "ok"))
        #expect(wire == "event: a event: evil\nid: 1 data: x\ndata: ok\n\n")
    }

    @Test func commentFrame() {
        #expect(String(decoding: ServerSentEvent.comment("keep-alive"), as: UTF8.self) == ": keep-alive\n\n")
    }

    @Test func retryField() {
        #expect(text(ServerSentEvent(data: "x", retry: 3000)) == "retry: 3000\ndata: x\n\n")
    }
}
