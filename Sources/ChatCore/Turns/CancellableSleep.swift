import Dispatch
import Synchronization

/// A sleep whose timer goes the moment its task is cancelled.
///
/// `Task.sleep` hands its wake-up to a Dispatch timer that keeps the sleeping task's memory
/// until the deadline, cancelled or not. A watchdog sleeping towards a 60-second first-token
/// deadline, cancelled when its answer ends a second later, stays allocated for 59 more: a
/// load of a few thousand turns leaves thousands of them scattered over the heap, and those
/// few live bytes on each page keep the whole freed peak resident after the load (measured in
/// `bench/RESULTS.md`). Sleeps that are usually cancelled (timeouts, watchdogs, lease renewals,
/// polls) use this one, which cancels the timer itself.
public enum CancellableSleep {
    /// Returns at `deadline`, or throws `CancellationError` as soon as the task is cancelled
    /// (at once if it already is).
    public static func until(_ deadline: ContinuousClock.Instant) async throws {
        let wake = Wake()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                wake.arm(continuation, after: deadline - .now)
            }
        } onCancel: {
            wake.cancel()
        }
    }

    public static func `for`(_ duration: Duration) async throws {
        try await until(.now + duration)
    }

    /// Timers armed and not yet fired or cancelled, for the tests.
    static var armedTimers: Int { Wake.armed.load(ordering: .relaxed) }
    /// Sleeps whose state is still allocated (until Dispatch has disposed of their timer),
    /// for the tests.
    static var liveSleeps: Int { Wake.live.load(ordering: .relaxed) }
}

/// A Dispatch timer, which the overlay does not mark `Sendable`. Safe to send: it is configured
/// and activated before it is shared; then either `arm` cancels it at once (the deadline or the
/// cancellation came first) or it is kept in its sleep's `Mutex` and taken out under it exactly
/// once, by whichever of the two comes first, to be cancelled (`dispatch_source_cancel` may be
/// called from any thread).
private struct SleepTimer: @unchecked Sendable {
    let source: any DispatchSourceTimer
}

/// One sleep's continuation and timer. Whichever comes first, the deadline or the
/// cancellation, resumes the continuation and cancels the timer, which releases its handler
/// (and with it the cycle between the two).
private final class Wake: Sendable {
    private enum State {
        case unarmed
        /// The timer fired or the task was cancelled before the continuation was stored.
        case fired, cancelled
        case waiting(CheckedContinuation<Void, any Error>, SleepTimer)
        case done
    }

    static let armed = Atomic<Int>(0)
    static let live = Atomic<Int>(0)
    private let state = Mutex(State.unarmed)

    init() { Self.live.add(1, ordering: .relaxed) }
    deinit { Self.live.subtract(1, ordering: .relaxed) }

    func arm(_ continuation: CheckedContinuation<Void, any Error>, after delay: Duration) {
        if delay <= .zero {
            let cancelled = state.withLock { state in
                defer { state = .done }
                if case .cancelled = state { return true }
                return false
            }
            Self.resume(continuation, cancelled: cancelled)
            return
        }
        let source = DispatchSource.makeTimerSource(queue: .global())
        source.setEventHandler { [self] in fire() }
        source.schedule(deadline: Self.dispatchTime(after: delay))
        Self.armed.add(1, ordering: .relaxed)
        source.activate()
        let timer = SleepTimer(source: source)
        // The timer may have fired, or the task been cancelled, before the continuation is
        // stored: then it is resumed here.
        let early: Bool? = state.withLock { state in
            switch state {
            case .unarmed:
                state = .waiting(continuation, timer)
                return nil
            case .cancelled:
                state = .done
                return true
            case .fired, .waiting, .done:
                state = .done
                return false
            }
        }
        guard let cancelled = early else { return }
        stop(timer)
        Self.resume(continuation, cancelled: cancelled)
    }

    private func fire() { finish(cancelled: false) }

    func cancel() { finish(cancelled: true) }

    /// The deadline or the cancellation, whichever comes first; the other finds nothing to do.
    private func finish(cancelled: Bool) {
        let waiting: (CheckedContinuation<Void, any Error>, SleepTimer)? = state.withLock { state in
            switch state {
            case .unarmed:
                state = cancelled ? .cancelled : .fired
                return nil
            case .waiting(let continuation, let timer):
                state = .done
                return (continuation, timer)
            case .fired, .cancelled, .done:
                return nil
            }
        }
        guard let (continuation, timer) = waiting else { return }
        stop(timer)
        Self.resume(continuation, cancelled: cancelled)
    }

    private static func resume(_ continuation: CheckedContinuation<Void, any Error>, cancelled: Bool) {
        if cancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
    }

    private func stop(_ timer: SleepTimer) {
        timer.source.cancel()
        Self.armed.subtract(1, ordering: .relaxed)
    }

    /// Dispatch's clock is not the continuous one, so the deadline travels as a delay. Beyond
    /// a century the timer never fires.
    private static func dispatchTime(after delay: Duration) -> DispatchTime {
        let (seconds, attoseconds) = delay.components
        guard seconds < 3_153_600_000 else { return .distantFuture }
        return .now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
