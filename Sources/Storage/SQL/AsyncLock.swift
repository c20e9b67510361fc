import Synchronization

/// A lock that async code can hold across suspension points, granted in arrival order.
/// SQLite has one connection: a transaction must keep it from its BEGIN to its COMMIT.
///
/// Taking a free lock and giving it back are synchronous (a mutex, no actor hop); only a
/// caller that finds it held suspends, and `unlock` hands the lock straight to the oldest
/// waiter, whose task resumes on its own executor.
final class AsyncLock: Sendable {
    /// Waiters are rare: on the database's serial queue a transaction's body runs to its end
    /// before the next caller starts, unless it awaits something elsewhere.
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func lock() async {
        let taken = state.withLock { state in
            if state.locked { return false }
            state.locked = true
            return true
        }
        if taken { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            // Given back between the two looks: take it now rather than wait for nobody.
            let taken = state.withLock { state in
                if state.locked {
                    state.waiters.append(waiter)
                    return false
                }
                state.locked = true
                return true
            }
            if taken { waiter.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
