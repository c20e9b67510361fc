import Dispatch

/// Runs an actor's jobs on a serial Dispatch queue of its own. An actor over a C library whose
/// calls block (libpq, SQLite, hiredis) uses one as its executor: its code then never holds a
/// thread of the cooperative pool, and the compiler checks that the library's handle is touched
/// only there, where a class with a queue had only a comment saying so.
///
/// Dispatch on Linux has no `DispatchSerialQueue` executor, hence this small adapter.
public final class DispatchQueueExecutor: SerialExecutor {
    let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}
