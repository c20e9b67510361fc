@testable import ChatCore
import Foundation
import Testing

/// The in-memory turn that readers follow: offsets, waiting, cancellation, stop.
@Suite(.timeLimit(.minutes(5))) struct TurnTests {
    static func makeTurn() -> Turn {
        let session = ChatSession.ID(UUID())
        let user = Message(id: Message.ID(UUID()), sessionID: session, role: .user, content: "hi", status: .complete, createdAt: Date(), updatedAt: Date())
        let answer = Message(id: Message.ID(UUID()), sessionID: session, role: .assistant, content: "", status: .streaming, createdAt: Date(), updatedAt: Date())
        return Turn(userMessage: user, assistantMessage: answer, ownerID: User.ID(UUID()), model: "mock")
    }

    /// Returns once a reader of `turn` waits (instead of sleeping and hoping it does by then).
    static func untilWaiting(_ turn: Turn, count: Int = 1) async {
        while turn.waitingReaders < count { await Task.yield() }
    }

    @Test func readersGetEverythingPastTheirOffsetAsOneDelta() async {
        let turn = Self.makeTurn()
        turn.append("Grüße, ")
        turn.append("world")
        #expect(await turn.next(after: 0) == .content("Grüße, world", offset: 14))
        #expect(await turn.next(after: 9) == .content("world", offset: 14))
        #expect(turn.acceptsOffset(9))
        #expect(!turn.acceptsOffset(3), "inside the ü")
        #expect(!turn.acceptsOffset(15))
        var done = turn.assistantMessage
        done.content = turn.content
        turn.finish(.done(done))
        #expect(await turn.next(after: 14) == .ended(.done(done)))
    }

    @Test func aWaitingReaderWakesForContentAndEnd() async {
        let turn = Self.makeTurn()
        async let update = turn.next(after: 0)
        await Self.untilWaiting(turn)
        turn.append("a")
        #expect(await update == .content("a", offset: 1))
        async let end = turn.waitForEnd()
        await Self.untilWaiting(turn)
        turn.finish(.shutdown(turn.assistantMessage))
        #expect(await end == .shutdown(turn.assistantMessage))
    }

    @Test func cancellingAReaderDetachesItAndLeavesTheTurnRunning() async {
        let turn = Self.makeTurn()
        let reader = Task { await turn.next(after: 0) }
        await Self.untilWaiting(turn)
        reader.cancel()
        #expect(await reader.value == .detached)
        let late = Task { await turn.next(after: 0) }
        late.cancel()
        #expect(await late.value == .detached)
        turn.append("still going")
        #expect(await turn.next(after: 0) == .content("still going", offset: 11))
    }

    @Test func heartbeatWakesIdleReaders() async {
        let turn = Self.makeTurn()
        async let update = turn.next(after: 0)
        await Self.untilWaiting(turn)
        turn.heartbeat()
        #expect(await update == .heartbeat)
    }

    /// A stop that comes before the generation is attached still cancels it; the first reason wins.
    @Test func stopBeforeAttachCancelsAtOnce() {
        let turn = Self.makeTurn()
        turn.stop(.requested)
        turn.stop(.shutdown)
        let cancelled = Flag()
        turn.attach { cancelled.set() }
        #expect(cancelled.value)
        #expect(turn.stopReason == .requested)
    }

    @Test func titleComesFromTheFirstLineOfTheFirstMessage() {
        #expect(ChatSession.title(fromFirstMessage: "\n  How   do I\tbake bread?\nDetails follow") == "How do I bake bread?")
        #expect(ChatSession.title(fromFirstMessage: String(repeating: "a", count: 80)) == String(repeating: "a", count: 59) + "…")
        #expect(ChatSession.title(fromFirstMessage: " \n ") == ChatSession.defaultTitle)
    }
}

final class Flag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}

import Synchronization
