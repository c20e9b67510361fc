import ChatCore
import ChatCoreTesting
import Foundation
import Synchronization
import Testing

/// Authentication keeps callers for a short while; every change to a user drops them.
@Suite(.timeLimit(.minutes(1))) struct UserCacheTests {
    /// Counts the reads of users that reach the repository.
    final class CountingUsers: Sendable {
        let inner = InMemoryUserRepository()
        let reads = Atomic<Int>(0)

        func find(_ id: User.ID) async throws -> User? {
            reads.add(1, ordering: .relaxed)
            return try await inner.find(id: id)
        }
    }

    func user(_ role: Role = .user) -> User {
        User(id: User.ID(UUID()), email: nil, passwordHash: nil, role: role, createdAt: Date())
    }

    @Test func aFreshEntryIsServedWithoutAReadAndAnInvalidatedOneIsReadAgain() async throws {
        let users = CountingUsers(), cache = UserCache(timeToLive: .seconds(60))
        let ann = user(), bob = user()
        try await users.inner.create(ann)
        try await users.inner.create(bob)
        for _ in 0..<3 { #expect(try await cache.user(ann.id) { try await users.find(ann.id) } == ann) }
        #expect(users.reads.load(ordering: .relaxed) == 1)
        _ = try await cache.user(bob.id) { try await users.find(bob.id) }
        cache.invalidate(ann.id)
        _ = try await cache.user(ann.id) { try await users.find(ann.id) }
        _ = try await cache.user(bob.id) { try await users.find(bob.id) }
        #expect(users.reads.load(ordering: .relaxed) == 3, "ann read again, bob still cached")
        cache.invalidate(nil)
        _ = try await cache.user(bob.id) { try await users.find(bob.id) }
        #expect(users.reads.load(ordering: .relaxed) == 4, "everyone dropped")
    }

    @Test func anEntryAgesOut() async throws {
        let users = CountingUsers(), cache = UserCache(timeToLive: .milliseconds(50))
        let ann = user()
        try await users.inner.create(ann)
        _ = try await cache.user(ann.id) { try await users.find(ann.id) }
        try await Task.sleep(for: .milliseconds(120))
        _ = try await cache.user(ann.id) { try await users.find(ann.id) }
        #expect(users.reads.load(ordering: .relaxed) == 2)
    }

    /// A change reported while the old row is being read must not leave the old row cached.
    @Test func aReadOvertakenByAChangeIsNotKept() async throws {
        let cache = UserCache(timeToLive: .seconds(60))
        let old = user(.admin)
        var demoted = old
        demoted.role = .user
        let stale = try await cache.user(old.id) {
            cache.invalidate(old.id)  // the change lands while this read is in flight
            return old
        }
        #expect(stale == old, "the caller gets what it read")
        #expect(try await cache.user(old.id) { demoted } == demoted, "but the next one reads again")
    }

    @Test func anUnknownUserIsNotCached() async throws {
        let users = CountingUsers(), cache = UserCache(timeToLive: .seconds(60))
        let ghost = User.ID(UUID())
        #expect(try await cache.user(ghost) { try await users.find(ghost) } == nil)
        #expect(try await cache.user(ghost) { try await users.find(ghost) } == nil)
        #expect(users.reads.load(ordering: .relaxed) == 2)
    }

    @Test func aFullCacheStaysBounded() async throws {
        let cache = UserCache(timeToLive: .seconds(60), capacity: 4)
        let everyone = (0..<10).map { _ in user() }
        for person in everyone { _ = try await cache.user(person.id) { person } }
        var reads = 0
        for person in everyone { _ = try await cache.user(person.id) { reads += 1; return person } }
        #expect(reads >= 6, "at most four of ten were kept")
    }

    /// Every write through the notifier reports the user it changed, also when it fails.
    @Test func everyChangeIsReported() async throws {
        let reported = Mutex<[User.ID?]>([])
        let users = UserChangeNotifier(InMemoryUserRepository()) { id in reported.withLock { $0.append(id) } }
        var ann = user()
        try await users.create(ann)
        ann.isActive = false
        try await users.update(ann)
        // Refused here (no admin is left to keep), and reported all the same.
        await #expect(throws: DomainError.lastAdmin) { try await users.updateKeepingAnAdmin(ann) }
        try await users.recordLogin(id: ann.id, at: Date())
        _ = try? await users.deleteKeepingAnAdmin(id: ann.id)
        #expect(reported.withLock { $0 } == [ann.id, ann.id, ann.id, ann.id])
    }
}
