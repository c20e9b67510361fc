import ChatCore
@testable import LLMProviders
import Testing

/// The chunk fast path agrees with the full decoder wherever it answers, and declines every
/// shape it does not fully understand.
@Suite(.timeLimit(.minutes(5))) struct ChunkFastPathTests {
    static func chunk(_ delta: String, finish: String = "null") -> String {
        #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"# + delta + #"},"finish_reason":"# + finish + "}]}"
    }

    @Test(arguments: [#"word "#, #"Grüße ✈️ "#, #"quote \" and \\ and \/"#, #"line\nbreak\ttab"#, #""#])
    func plainDeltasMatchTheFullDecoder(_ escaped: String) throws {
        let data = Self.chunk(#"""# + escaped + #"""#)
        let fast = try #require(ChunkFastPath.delta(data))
        let full = try OpenAICompatibleProvider.decodeFully(data)
        #expect((fast.isEmpty ? [] : [CompletionEvent.delta(fast)]) == full)
        #expect(try OpenAICompatibleProvider.decode(data) == full)
    }

    @Test(arguments: [
        chunk(#""done""#, finish: #""stop""#),                                  // a finish reason
        chunk(#""\u00e9t\u00e9""#),                                            // \u escapes
        chunk(#"null"#),                                                        // no text
        #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,  // usage only
        #"{"choices":[{"delta":{"content":"a"},"finish_reason":null},{"delta":{"content":"b"},"finish_reason":null}]}"#,  // two choices
        #"{"choices":[{"delta":{"content":"a","tool_calls":[]},"finish_reason":null}]}"#,  // more than text
        #"{"error":{"message":"boom"}}"#,
    ])
    func otherShapesGoToTheFullDecoder(_ data: String) throws {
        #expect(ChunkFastPath.delta(data) == nil)
    }
}
