@testable import ChatCore
import CMalloc
import Testing

/// The sleep that watchdogs, lease renewals and polls use: it wakes at its deadline, and a
/// cancelled one lets go of its timer at once instead of at the deadline.
@Suite(.timeLimit(.minutes(1))) struct CancellableSleepTests {
    @Test func wakesAtItsDeadline() async throws {
        let start = ContinuousClock.now
        try await CancellableSleep.for(.milliseconds(30))
        #expect(ContinuousClock.now - start >= .milliseconds(30))
        try await CancellableSleep.until(.now - .seconds(1))  // a deadline already past returns
    }

    @Test func aCancelledSleepThrowsAtOnce() async {
        let sleeper = Task { try await CancellableSleep.for(.seconds(3600)) }
        while CancellableSleep.armedTimers == 0 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func anAlreadyCancelledTaskDoesNotSleep() async {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await CancellableSleep.for(.seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func cancelledSleepsDisarmTheirTimers() async {
        let sleeps = 5_000
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<sleeps {
                group.addTask { try? await CancellableSleep.for(.seconds(3600)) }
            }
            while CancellableSleep.armedTimers < sleeps { await Task.yield() }
            group.cancelAll()
        }
        // Other suites' sleeps may be armed meanwhile, never thousands of them.
        #expect(CancellableSleep.armedTimers < sleeps / 5)
    }
}

/// Measures the process's heap, which other suites' allocations would blur: it runs in the
/// second phase of `scripts/run-tests.sh`, alone.
@Suite(.timeLimit(.minutes(1))) struct SleepMemoryTests {
    /// `Task.sleep` keeps a cancelled sleep's task and timer allocated until its deadline:
    /// 20,000 cancelled one-hour sleeps held 17 MB of heap for the hour.
    @Test func cancelledSleepsLetGoOfTheirTimersAndMemory() async {
        let sleeps = 20_000
        let before = mallinfo2().uordblks
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<sleeps {
                group.addTask { try? await CancellableSleep.for(.seconds(3600)) }
            }
            while CancellableSleep.armedTimers < sleeps { await Task.yield() }
            group.cancelAll()
        }
        let grown = Int(mallinfo2().uordblks) - Int(before)
        #expect(grown < 3_000_000, "\(grown) bytes still allocated after the sleeps were cancelled")
        #expect(CancellableSleep.armedTimers < sleeps / 10)
    }
}
