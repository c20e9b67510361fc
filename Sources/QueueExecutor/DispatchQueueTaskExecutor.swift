public import Dispatch

/// Runs the nonisolated code of tasks that prefer it (`withTaskExecutorPreference`) on a serial
/// Dispatch queue of its own. A database whose calls block hands a whole transaction to one:
/// the body and every statement in it then run on that one thread, one after another, with no
/// thread switch per statement, and never on the cooperative pool.
///
/// Because the queue is serial, the code of every task preferring it is serialised too; a
/// task that suspends (awaits another actor) lets the next one run, so state that must stay
/// exclusive across a suspension still needs a lock of its own.
public final class DispatchQueueTaskExecutor: TaskExecutor {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs the jobs on `queue`, which may run other work of its own too (a connection's I/O).
    public init(queue: DispatchQueue) {
        self.queue = queue
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Runs `work` on this executor's queue: a hop there and back, or none when the caller's
    /// task already runs there. For nonisolated callers (the databases): a closure formed on an
    /// actor would run on that actor, which `preconditionOnQueue` in the callers would catch.
    public func run<T>(_ work: () async throws -> T) async rethrows -> T {
        try await withTaskExecutorPreference(self, operation: work)
    }

    /// Stops the process unless the caller runs on this executor's queue (a blocking call
    /// about to run anywhere else is a bug, not a condition to handle).
    public func preconditionOnQueue() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
