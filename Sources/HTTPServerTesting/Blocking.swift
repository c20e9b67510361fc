import Foundation

/// Runs blocking work (socket reads with timeouts, waiting for a process) on a thread of its
/// own, never on the cooperative pool: with two cores the pool has two threads, and a test
/// that blocked them would starve the very handlers it is waiting for.
public func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.start()
    }
}
