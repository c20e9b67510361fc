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

    /// Starts `count` one-hour sleeps, waits until all are armed, and cancels them.
    static func armAndCancel(_ count: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                group.addTask { try? await CancellableSleep.for(.seconds(3600)) }
            }
            while CancellableSleep.armedTimers < count { await Task.yield() }
            group.cancelAll()
        }
    }

    @Test func cancelledSleepsDisarmAndReleaseTheirTimers() async {
        let sleeps = 5_000
        await Self.armAndCancel(sleeps)
        // Dispatch disposes of cancelled timers (and their handlers, which hold each sleep's
        // state) on its own threads, soon after, not at the deadline an hour away. Other
        // suites' sleeps may be armed meanwhile, never thousands of them for long.
        let cancelled = ContinuousClock.now
        while CancellableSleep.armedTimers >= sleeps / 5 || CancellableSleep.liveSleeps >= sleeps / 5,
              ContinuousClock.now - cancelled < .seconds(30) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        #expect(CancellableSleep.armedTimers < sleeps / 5)
        #expect(CancellableSleep.liveSleeps < sleeps / 5)
    }
}

/// Measures the process's heap, which other suites' allocations would blur: it runs in the
/// second phase of `scripts/run-tests.sh`, alone.
@Suite(.timeLimit(.minutes(1))) struct SleepMemoryTests {
    /// `Task.sleep` keeps a cancelled sleep's task and timer allocated until its deadline:
    /// 20,000 cancelled one-hour `Task.sleep`s held 17 MB of heap for the hour. These hold
    /// 2–4 MB by glibc's count right after (an allocator's caches, not live objects, which
    /// come to a few hundred kilobytes under a heap profiler), hence the bound at half of
    /// what `Task.sleep` holds.
    @Test func cancelledSleepsLetGoOfTheirMemory() async {
        let sleeps = 20_000
        let before = mallinfo2().uordblks
        await CancellableSleepTests.armAndCancel(sleeps)
        let cancelled = ContinuousClock.now
        while CancellableSleep.liveSleeps > 0, ContinuousClock.now - cancelled < .seconds(30) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let grown = Int(mallinfo2().uordblks) - Int(before)
        #expect(grown < 8_000_000, "\(grown) bytes still allocated after the sleeps were cancelled")
    }
}
