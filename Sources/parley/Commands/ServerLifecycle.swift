#if canImport(Glibc)
import Glibc
#endif
import ChatCore
import Dispatch
import HTTPServer
import Logging
import Synchronization

/// Runs a server until SIGTERM or SIGINT, then shuts it down gracefully.
enum ServerLifecycle {
    /// `termination` comes from `Signals.waitForTermination()`, called at the very start of the
    /// command: Dispatch arms a signal source asynchronously, and a SIGTERM that arrived
    /// between ignoring the signal and arming the source would be lost.
    ///
    /// On the signal the instance drains: it goes on serving, but `draining` makes readiness
    /// answer 503 at once (a balancer stops sending it traffic) and new sends are refused with
    /// 503 and `Retry-After`, while the running turns get most of the grace period to finish;
    /// those still running are then stopped, saved and their readers told `server_shutdown`,
    /// which ends their streams. Then the server stops accepting and closes every connection
    /// within what is left of the grace period.
    ///
    /// `alongside` are servers of their own (the metrics listener), started after the main one
    /// and stopped with it.
    static func run(_ server: Server, alongside others: [Server] = [], turns: TurnRegistry? = nil, draining: DrainState? = nil,
                    grace: Duration, logger: Logger, termination received: Task<Int32, Never>) async throws {
        // A write to a socket the peer closed must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        do {
            try server.start()
            for other in others { try other.start() }
        } catch {
            logger.critical("cannot listen", metadata: ["parley.error": "\(error)"])
            await server.shutdown(gracePeriod: .zero)
            throw error
        }
        let signalNumber = await received.value
        logger.info("termination signal received; draining", metadata: ["parley.signal": "\(signalNumber)"])
        draining?.begin()
        let deadline = ContinuousClock.now + grace
        // The last part of the grace period is the connections': time to write the final
        // events of stopped answers and close.
        let connectionsShare = min(.seconds(1), grace / 3)
        await turns?.shutdown(gracePeriod: grace - connectionsShare)
        await server.shutdown(gracePeriod: max(connectionsShare, deadline - ContinuousClock.now))
        // Answers finished but not yet saved: a last chance, then the spool file.
        _ = await turns?.pending.finish(within: .seconds(2), logger: logger)
        for other in others { await other.shutdown(gracePeriod: .zero) }
    }
}

/// Turns SIGTERM/SIGINT into an awaitable value.
///
/// The sources are made here, in a nonisolated context, with `@Sendable` handlers: a handler
/// written in top-level code would inherit main-actor isolation and trap when Dispatch runs
/// it on another queue.
enum Signals {
    static func waitForTermination() -> Task<Int32, Never> {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let holder = SignalSources()
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { @Sendable in continuation.yield(number) }
            source.resume()
            holder.keep(source)
        }
        return Task {
            // The sources must stay referenced while we wait, or they stop delivering.
            defer { withExtendedLifetime(holder) {} }
            for await number in stream { return number }
            return SIGTERM
        }
    }
}

/// Keeps signal sources alive. `@unchecked Sendable`: `keep` is only called during set-up
/// (here, and in `Interrupts.init`), on one thread, before the holder is shared; afterwards it
/// is only retained.
final class SignalSources: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    func keep(_ source: any DispatchSourceSignal) { sources.append(source) }
}

/// Whether this instance is draining (a termination signal came): readiness then answers 503.
final class DrainState: Sendable {
    private let flag = Atomic<Bool>(false)
    func begin() { flag.store(true, ordering: .relaxed) }
    var isDraining: Bool { flag.load(ordering: .relaxed) }
}
