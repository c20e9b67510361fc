private import CArgon2
public import ChatCore
import Dispatch
import Synchronization

/// argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), off the cooperative pool.
///
/// Each hash takes tens of milliseconds of CPU and 19 MiB of memory, so hashing runs on a
/// fixed set of serial queues (at most `concurrency` at once) and at most `maxWaiting`
/// more may wait; past that the caller gets `DomainError.unavailable` at once. A flood of
/// logins then costs bounded memory and cannot starve the threads that serve other requests.
/// The 19 MiB goes back to the system after each hash (without that, ten sign-ins left
/// ~40 MiB resident for good; see the shim).
public final class Argon2PasswordHasher: PasswordHasher {
    public struct Parameters: Sendable {
        public var memoryKiB: UInt32 = 19 * 1024
        public var iterations: UInt32 = 2
        public var parallelism: UInt32 = 1
        public init() {}
    }

    private let parameters: Parameters
    private let queues: [DispatchQueue]
    private let maxOutstanding: Int
    /// How many checks may be outstanding before a suspect one is refused: the rest of the
    /// capacity stays for accounts that have not failed recently.
    private let maxOutstandingSuspect: Int
    private let outstanding = Mutex(0)
    private let next = Atomic<Int>(0)

    public init(parameters: Parameters = Parameters(), concurrency: Int = 2, maxWaiting: Int = 64) {
        self.parameters = parameters
        parley_return_large_blocks_to_system()
        queues = (0..<max(1, concurrency)).map { DispatchQueue(label: "parley.argon2.\($0)") }
        maxOutstanding = max(1, concurrency) + maxWaiting
        maxOutstandingSuspect = max(1, maxOutstanding / 2)
    }

    public func hash(_ password: String) async throws -> String {
        let salt = Crypto.randomBytes(16)
        let p = parameters
        return try await run {
            let length = argon2_encodedlen(p.iterations, p.memoryKiB, p.parallelism, UInt32(salt.count), 32, Argon2_id)
            var encoded = [CChar](repeating: 0, count: length)
            let status = password.utf8CString.withUnsafeBytes { pwd in
                salt.withUnsafeBytes { s in
                    argon2id_hash_encoded(p.iterations, p.memoryKiB, p.parallelism, pwd.baseAddress, pwd.count - 1,
                                          s.baseAddress, s.count, 32, &encoded, length)
                }
            }
            guard status == ARGON2_OK.rawValue else { throw DomainError.unavailable("password hashing failed") }
            return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public func verify(_ password: String, against hash: String) async throws -> Bool {
        try await verify(password, against: hash, suspect: false)
    }

    public func verify(_ password: String, against hash: String, suspect: Bool) async throws -> Bool {
        try await run(limit: suspect ? maxOutstandingSuspect : maxOutstanding) {
            let status = password.utf8CString.withUnsafeBytes { pwd in
                argon2id_verify(hash, pwd.baseAddress, pwd.count - 1)
            }
            return status == ARGON2_OK.rawValue
        }
    }

    private func run<T: Sendable>(limit: Int? = nil, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let limit = limit ?? maxOutstanding
        let admitted = outstanding.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { throw DomainError.unavailable("too many sign-ins are in progress; retry shortly") }
        let queue = queues[next.add(1, ordering: .relaxed).newValue % queues.count]
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                let result = Result { try work() }
                self.outstanding.withLock { $0 -= 1 }
                continuation.resume(with: result)
            }
        }
    }
}
