@testable import ChatCore
import Foundation
import Synchronization
import Testing

/// A reader of an answer another instance generates: pieces of its tail placed by their byte
/// offsets, storage filling what the tail lost, and storage alone when it cannot.
@Suite(.timeLimit(.minutes(1))) struct TurnFollowerTests {
    /// A tail that hands out the pieces it was given, then times out.
    final class ScriptedTail: TurnTail {
        let pieces: Mutex<[TailPiece]>
        init(_ pieces: [TailPiece]) { self.pieces = Mutex(pieces) }
        func next(timeout: Duration) async -> TailPiece {
            pieces.withLock { $0.isEmpty ? .timedOut : $0.removeFirst() }
        }
    }

    /// Storage holding one answer, as its owner last checkpointed or saved it.
    final class OneAnswer: MessageRepository {
        struct Unused: Error {}
        let stored: Mutex<Message>
        init(_ message: Message) { stored = Mutex(message) }
        func find(id: Message.ID, sessionID: ChatSession.ID) async throws -> Message? {
            stored.withLock { $0.id == id ? $0 : nil }
        }
        func append(_ message: Message) async throws -> Message { throw Unused() }
        func list(sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<PathMessage> { throw Unused() }
        func path(to id: Message.ID?, sessionID: ChatSession.ID, count: Int?) async throws -> [Message] { throw Unused() }
        func streaming(sessionID: ChatSession.ID) async throws -> Message? { throw Unused() }
        func all(sessionID: ChatSession.ID) async throws -> [Message] { throw Unused() }
        func tree(sessionID: ChatSession.ID, limit: Int, cursor: String?, withContent: Bool) async throws -> Page<Message> { throw Unused() }
        func activate(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Message.ID? { throw Unused() }
        func deleteSubtree(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Bool { throw Unused() }
        func update(_ message: Message) async throws { throw Unused() }
        func streamingAnswers(lapsedBefore: Date?) async throws -> [(message: Message, ownerID: User.ID, model: String)] { throw Unused() }
        func updateIfStreaming(_ message: Message, lapsedBefore: Date?) async throws -> Bool { throw Unused() }
        func checkpoint(_ message: Message, leaseUntil: Date) async throws { throw Unused() }
        func renewLease(of id: Message.ID, until: Date) async throws { throw Unused() }
    }

    static func answer(_ content: String, _ status: Message.Status) -> Message {
        Message(id: Message.ID(UUID()), sessionID: ChatSession.ID(UUID()), role: .assistant, content: content, status: status, createdAt: Date(), updatedAt: Date())
    }

    static func follower(_ message: Message, _ storage: OneAnswer, _ tail: ScriptedTail, after offset: Int) -> TurnFollower {
        var settings = ChatSettings()
        settings.followPollInterval = .milliseconds(10)
        settings.keepAliveInterval = .milliseconds(50)
        return TurnFollower(.elsewhere(message, messages: storage, settings: settings, tail: tail), offset: offset)
    }

    static func isTailing(_ follower: TurnFollower) -> Bool {
        if case .elsewhere(_, _, _, let tail) = follower.source { return tail != nil }
        return false
    }

    @Test func repeatedAndOverlappingPiecesGiveEachByteOnce() async {
        let running = Self.answer("", .streaming)
        let storage = OneAnswer(running)
        let tail = ScriptedTail([.content(start: 0, text: "Hello"), .content(start: 0, text: "Hello wör"), .content(start: 10, text: "ld"), .ended])
        var follower = Self.follower(running, storage, tail, after: 3)
        #expect(await follower.next() == .content("lo", offset: 5))
        #expect(await follower.next() == .content(" wör", offset: 10))
        #expect(await follower.next() == .content("ld", offset: 12))
        var saved = running
        saved.content = "Hello wörld"
        saved.status = .complete
        storage.stored.withLock { $0 = saved }
        #expect(await follower.next() == .ended(.done(saved)))
    }

    @Test func bytesTheTailLostComeFromStorage() async {
        var running = Self.answer("Hello ", .streaming)
        let storage = OneAnswer(running)
        let tail = ScriptedTail([.content(start: 8, text: "rld")])
        running.content = ""
        var follower = Self.follower(running, storage, tail, after: 0)
        storage.stored.withLock { $0.content = "Hello wo" }
        #expect(await follower.next() == .content("Hello world", offset: 11))
        #expect(Self.isTailing(follower))
    }

    @Test func whenStorageLacksTheLostBytesTooTheReaderFollowsStorageAlone() async {
        let running = Self.answer("Hel", .streaming)
        let storage = OneAnswer(running)
        let tail = ScriptedTail([.content(start: 8, text: "rld")])
        var follower = Self.follower(running, storage, tail, after: 0)
        #expect(await follower.next() == .content("Hel", offset: 3))
        #expect(!Self.isTailing(follower), "the tail cannot serve this reader any more")
    }

    @Test func aQuietTailIsCoveredByCheckpointsAndTheSavedEnd() async {
        let running = Self.answer("", .streaming)
        let storage = OneAnswer(running)
        var follower = Self.follower(running, storage, ScriptedTail([]), after: 0)
        #expect(await follower.next() == .heartbeat, "nothing anywhere: a keep-alive")
        storage.stored.withLock { $0.content = "checkpointed" }
        #expect(await follower.next() == .content("checkpointed", offset: 12))
        var ended = storage.stored.withLock { $0 }
        ended.status = .interrupted
        storage.stored.withLock { $0 = ended }
        #expect(await follower.next() == .ended(.done(ended)), "an owner that died: the sweep's saved end reaches the reader")
    }
}
