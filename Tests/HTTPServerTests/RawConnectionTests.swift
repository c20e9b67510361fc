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
        let port = try Self.closedPort()
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
            let deadline = ContinuousClock.now + .seconds(1)
            while ContinuousClock.now < deadline {
                #expect(throws: RawConnection.Failure.self) { _ = try RawConnection(port: port) }
            }
        }
        stop.store(true, ordering: .relaxed)
        #expect(stolen.load(ordering: .relaxed) == 0, "descriptors closed under another thread")
    }

    /// A loopback port nobody listens on: bound, then released.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
