@testable import ChatAPI
import ChatCore
import Foundation
import HTTPServer
import Testing
import JSONText

/// The hand-built `start` and `done` event documents say exactly what the generic encoder says.
@Suite(.timeLimit(.minutes(5))) struct MessageDTOJSONTests {
    static let contents = ["", "plain words ", "quote \" backslash \\ slash /", "line\nbreak\r\ttab \u{08}\u{0C}\u{01}\u{1F}",
                           "Grüße ✈️ 日本語 \u{2028}", "<script>alert(1)</script>"]

    static func message(_ content: String, usage: TokenUsage?, finishReason: String?) -> Message {
        var message = Message(id: Message.ID(UUID()), sessionID: ChatSession.ID(UUID()), position: 2, role: .assistant,
                              content: content, status: .complete, createdAt: Date(timeIntervalSince1970: 1_790_000_000.123),
                              updatedAt: Date())
        message.usage = usage
        message.finishReason = finishReason
        return message
    }

    static func encoded<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONBody.encoder.encode(value), as: UTF8.self)
    }

    static func parsed(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    /// The token frame written straight into bytes is the frame `ServerSentEvent` encodes, and
    /// its data gives back the delta.
    @Test(arguments: contents)
    func tokenFramesMatchTheEventEncoder(_ delta: String) throws {
        let frame = TurnRoutes.tokenFrame(delta, offset: 1234)
        let event = ServerSentEvent(event: "token", id: "1234", data: "{\"delta\":\(jsonQuoted(delta))}")
        #expect(frame == event.encoded())
        let text = String(decoding: frame, as: UTF8.self)
        let data = try #require(text.split(separator: "\n").first { $0.hasPrefix("data: ") }).dropFirst(6)
        #expect(try Self.parsed(String(data))["delta"] as? String == delta)
    }

    @Test(arguments: contents)
    func eventsMatchTheEncoder(_ content: String) throws {
        for (usage, reason) in [(nil, nil), (TokenUsage(promptTokens: 12, completionTokens: 3, estimated: true), "stop")] as [(TokenUsage?, String?)] {
            let dto = MessageDTO(Self.message(content, usage: usage, finishReason: reason))
            var onPath = dto
            (onPath.siblings, onPath.siblingIndex) = (3, 2)
            let documents: [(String, String)] = [
                (dto.json, try Self.encoded(dto)),
                (onPath.json, try Self.encoded(onPath)),
                (TurnEndDTO(message: dto, cutAt: 7, saved: false).json, try Self.encoded(TurnEndDTO(message: dto, cutAt: 7, saved: false))),
                (TurnStartDTO(userMessage: dto, assistantMessageId: "a-1").json, try Self.encoded(TurnStartDTO(userMessage: dto, assistantMessageId: "a-1"))),
                (TurnEndDTO(message: dto).json, try Self.encoded(TurnEndDTO(message: dto))),
                (TurnEndDTO(message: dto, cached: true).json, try Self.encoded(TurnEndDTO(message: dto, cached: true))),
            ]
            for (built, generic) in documents {
                #expect(try Self.parsed(built) == Self.parsed(generic), "\(built) vs \(generic)")
            }
        }
    }

    /// Where no character needs a choice of escape, the bytes are the same too.
    @Test func plainMessagesAreByteForByteTheSame() throws {
        let dto = MessageDTO(Self.message("plain words / and more", usage: TokenUsage(promptTokens: 1, completionTokens: 2), finishReason: "length"))
        #expect(TurnEndDTO(message: dto).json == (try Self.encoded(TurnEndDTO(message: dto))))
        #expect(TurnEndDTO(message: dto, cached: true, cutAt: 4, saved: true).json == (try Self.encoded(TurnEndDTO(message: dto, cached: true, cutAt: 4, saved: true))))
        #expect(TurnStartDTO(userMessage: dto, assistantMessageId: "x").json == (try Self.encoded(TurnStartDTO(userMessage: dto, assistantMessageId: "x"))))
    }
}
