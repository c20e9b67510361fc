#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPServerTesting
import Synchronization
import Testing

/// The test client itself: it runs beside everything else in one process, so a descriptor it
/// closes twice can be another thread's by then.
@Suite struct RawConnectionTests {
    /// A refused connection closes its socket exactly once. It used to close it again when the
    /// half-built connection was released, and that second close took whatever descriptor had
    /// been given the same number in between: a concurrent spawn's pipe failed with EBADF.
    @Test func aRefusedConnectionClosesItsSocketOnce() async throws {
        let closed = try ClosedPort()
        let port = closed.port
        let stop = Atomic<Bool>(false)
        let stolen = Atomic<Int>(0)
        // Another thread keeps taking the lowest free descriptor (the refused socket's number),
        // as a spawn's pipe would, and checks it is still open before giving it back.
        let churn = Thread {
            while !stop.load(ordering: .relaxed) {
                let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                for _ in 0..<200 { _ = getpid() }
                if fcntl(fd, F_GETFD) == -1 { stolen.add(1, ordering: .relaxed); continue }
                close(fd)
            }
        }
        churn.start()
        try await blocking {
            // Bounded, not timed: the suites run beside it (11 to 17 descriptors were taken in
            // 2,000 refusals before the fix).
            for _ in 0..<2_000 {
                #expect(throws: RawConnection.Failure.self) { _ = try RawConnection(port: port) }
            }
        }
        stop.store(true, ordering: .relaxed)
        withExtendedLifetime(closed) {}
        #expect(stolen.load(ordering: .relaxed) == 0, "descriptors closed under another thread")
    }
}
