import ChatCore
import Foundation
import Storage
import StorageTesting
import Testing

/// The chat repositories' contract, on every database.
@Suite(.timeLimit(.minutes(5))) struct ChatRepositoryContractTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    struct Fixture {
        let db: any SQLDatabase
        let ann: User
        let bob: User
        var users: SQLUserRepository { SQLUserRepository(database: db) }
        var sessions: SQLChatSessionRepository { SQLChatSessionRepository(database: db) }
        var messages: SQLMessageRepository { SQLMessageRepository(database: db) }
        var projects: SQLProjectRepository { SQLProjectRepository(database: db) }
        var usage: SQLUsageRepository { SQLUsageRepository(database: db) }
        var turns: SQLTurnRepository { SQLTurnRepository(database: db) }
    }

    func fixture(_ backend: TestBackend) async throws -> Fixture? {
        guard let db = try await backend.makeDatabase() else { return nil }
        let ann = User(id: User.ID(UUID()), email: try EmailAddress("ann@example.org"), passwordHash: "h", role: .user, createdAt: t0)
        let bob = User(id: User.ID(UUID()), email: try EmailAddress("bob@example.org"), passwordHash: "h", role: .user, createdAt: t0)
        try await SQLUserRepository(database: db).create(ann)
        try await SQLUserRepository(database: db).create(bob)
        return Fixture(db: db, ann: ann, bob: bob)
    }

    func session(of owner: User, at offset: Double = 0, project: Project.ID? = nil) -> ChatSession {
        ChatSession(id: ChatSession.ID(UUID()), ownerID: owner.id, projectID: project, title: "t", model: "mock",
                    createdAt: t0, updatedAt: t0.addingTimeInterval(offset))
    }

    func message(_ session: ChatSession, _ role: Message.Role = .user, _ content: String = "hi", status: Message.Status = .complete) -> Message {
        Message(id: Message.ID(UUID()), sessionID: session.id, role: role, content: content, status: status, createdAt: t0, updatedAt: t0)
    }

    /// A project deleted between the use case's check and the write: the foreign key refuses
    /// the write, and the repository says "project not found" (a 404), never a raw SQL error.
    @Test(arguments: TestBackend.available)
    func aWriteNamingAVanishedProjectIsProjectNotFound(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        let vanished = Project.ID(UUID())
        func expectProjectNotFound(_ what: String, _ write: () async throws -> Void) async {
            do {
                try await write()
                Issue.record("\(what) was written")
            } catch let error as DomainError {
                #expect(error == .notFound("project"), "\(what)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        var s = session(of: f.ann)
        try await f.sessions.create(s)
        s.projectID = vanished
        await expectProjectNotFound("session moved") { try await f.sessions.update(s) }
        await expectProjectNotFound("session created") { try await f.sessions.create(session(of: f.ann, project: vanished)) }
        await expectProjectNotFound("prompt added") {
            try await f.projects.addPrompt(Prompt(id: Prompt.ID(UUID()), projectID: vanished, text: "x", position: 0, createdAt: t0))
        }
    }

    @Test(arguments: TestBackend.available)
    func sessionsBelongToTheirOwner(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        let s = session(of: f.ann)
        try await f.sessions.create(s)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.ann.id) == s)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.bob.id) == nil)
        #expect(try await f.sessions.delete(id: s.id, ownerID: f.bob.id) == false)
        var renamed = s
        renamed.title = "Renamed ✓ 'quoted'"
        renamed.updatedAt = t0.addingTimeInterval(5)
        try await f.sessions.update(renamed)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.ann.id) == renamed)
        _ = try await f.messages.append(message(s))
        #expect(try await f.sessions.delete(id: s.id, ownerID: f.ann.id))
        #expect(try await f.messages.path(to: nil, sessionID: s.id, count: 10).isEmpty)
        await f.db.close()
    }

    @Test(arguments: TestBackend.available)
    func sessionsArePagedByLatestActivity(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        var all: [ChatSession] = []
        for i in 0..<5 {
            let s = session(of: f.ann, at: Double(i))
            try await f.sessions.create(s)
            all.append(s)
        }
        try await f.sessions.create(session(of: f.bob))
        var seen: [ChatSession.ID] = []
        var cursor: String?
        repeat {
            let page = try await f.sessions.list(ownerID: f.ann.id, projectID: nil, limit: 2, cursor: cursor)
            seen += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == all.reversed().map(\.id))
        await f.db.close()
    }

    @Test(arguments: TestBackend.available)
    func messagesGetPositionsEvenWhenAppendedAtOnce(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        let s = session(of: f.ann)
        try await f.sessions.create(s)
        let positions = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<10 { group.addTask { try await f.messages.append(message(s, .user, "m\(i)")).position } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(positions.sorted() == Array(1...10))
        let recent = try await f.messages.path(to: nil, sessionID: s.id, count: 3)
        #expect(recent.map(\.position) == [8, 9, 10])
        var pages: [Int] = []
        var cursor: String?
        repeat {
            let page = try await f.messages.list(sessionID: s.id, limit: 4, cursor: cursor)
            pages += page.items.map(\.message.position)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(pages == Array((1...10).reversed()))
        await #expect(throws: DomainError.self) { try await f.messages.list(sessionID: s.id, limit: 4, cursor: "bogus") }
        await f.db.close()
    }

    /// A streaming answer is checkpointed with its owner's lease; only once the lease has
    /// lapsed is it among the answers to recover, and a conditional write ends it only while
    /// it is still streaming (and lapsed), so a save that got there first wins.
    @Test(arguments: TestBackend.available)
    func streamingAnswersAreCheckpointedLeasedAndRecoveredOnlyOnceLapsed(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        let s = session(of: f.ann)
        try await f.sessions.create(s)
        _ = try await f.messages.append(message(s, .user, "question"))
        var answer = try await f.messages.append(message(s, .assistant, "", status: .streaming))
        answer.content = "partial answer with \"quotes\" and\nnewlines"
        answer.updatedAt = t0.addingTimeInterval(2)
        try await f.messages.checkpoint(answer, leaseUntil: t0.addingTimeInterval(30))
        #expect(try await f.messages.find(id: answer.id, sessionID: s.id)?.content == answer.content)
        #expect(try await f.messages.streamingAnswers(lapsedBefore: t0.addingTimeInterval(10)).isEmpty, "its lease holds")
        #expect(try await f.messages.streamingAnswers(lapsedBefore: nil).map(\.message.id) == [answer.id], "alone, every streaming answer")
        let lapsed = try await f.messages.streamingAnswers(lapsedBefore: t0.addingTimeInterval(31))
        #expect(lapsed.map(\.message.id) == [answer.id])
        #expect(lapsed.first?.ownerID == f.ann.id)
        var ended = answer
        ended.status = .interrupted
        #expect(try await !f.messages.updateIfStreaming(ended, lapsedBefore: t0.addingTimeInterval(10)), "not while the lease holds")
        #expect(try await f.messages.updateIfStreaming(ended, lapsedBefore: t0.addingTimeInterval(31)))
        #expect(try await f.messages.find(id: answer.id, sessionID: s.id)?.status == .interrupted)
        #expect(try await !f.messages.updateIfStreaming(ended, lapsedBefore: nil), "no longer streaming")
        var done = ended
        done.status = .complete
        done.finishReason = "stop"
        done.usage = TokenUsage(promptTokens: 12, completionTokens: 34, estimated: true)
        try await f.messages.update(done)
        #expect(try await f.messages.find(id: answer.id, sessionID: s.id)?.usage == done.usage)
        #expect(try await f.messages.streamingAnswers(lapsedBefore: nil).isEmpty)
        await f.db.close()
    }

    @Test(arguments: TestBackend.available)
    func projectsOwnPromptsAndDetachSessionsWhenDeleted(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        let project = Project(id: Project.ID(UUID()), ownerID: f.ann.id, name: "Research", description: nil, createdAt: t0, updatedAt: t0)
        try await f.projects.create(project)
        #expect(try await f.projects.find(id: project.id, ownerID: f.bob.id) == nil)
        for (i, text) in ["second", "first"].enumerated() {
            try await f.projects.addPrompt(Prompt(id: Prompt.ID(UUID()), projectID: project.id, text: text, position: 1 - i, createdAt: t0))
        }
        #expect(try await f.projects.prompts(projectID: project.id).map(\.text) == ["first", "second"])
        let s = session(of: f.ann, project: project.id)
        try await f.sessions.create(s)
        #expect(try await f.projects.list(ownerID: f.ann.id, limit: 10, cursor: nil).items.map(\.id) == [project.id])
        #expect(try await f.projects.delete(id: project.id, ownerID: f.ann.id))
        #expect(try await f.projects.prompts(projectID: project.id).isEmpty)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.ann.id)?.projectID == nil)
        await f.db.close()
    }

    @Test(arguments: TestBackend.available)
    func usageIsSummedSinceATime(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        for (offset, tokens) in [(-10.0, 100), (0.0, 10), (5.0, 20)] {
            try await f.usage.record(UsageEvent(id: UsageEvent.ID(UUID()), userID: f.ann.id, sessionID: nil, model: "mock",
                                                usage: TokenUsage(promptTokens: tokens, completionTokens: 1), latencyMilliseconds: 5,
                                                at: t0.addingTimeInterval(offset)))
        }
        #expect(try await f.usage.tokensUsed(userID: f.ann.id, since: t0) == 32)
        #expect(try await f.usage.tokensUsed(userID: f.bob.id, since: t0) == 0)
        await f.db.close()
    }

    /// A turn's first writes are one transaction: both messages at the next positions, the
    /// session retitled only from its default title on its first message, the key recorded
    /// once and honoured only within its window, then purged.
    @Test(arguments: TestBackend.available)
    func turnsBeginAtomicallyAndKeysExpire(_ backend: TestBackend) async throws {
        guard let f = try await fixture(backend) else { return }
        var s = session(of: f.ann)
        s.title = ChatSession.defaultTitle
        try await f.sessions.create(s)
        func start(_ key: String?) -> TurnStart {
            let user = message(s, .user, "question"), answer = message(s, .assistant, "", status: .streaming)
            let record = key.map { IdempotencyRecord(userID: f.ann.id, key: $0, requestHash: "h1", sessionID: s.id, userMessageID: user.id,
                                                    assistantMessageID: answer.id, createdAt: t0) }
            return TurnStart(userMessage: user, assistantMessage: answer, firstMessageTitle: "Question", defaultTitle: ChatSession.defaultTitle,
                             idempotency: record)
        }
        let first = start("k1")
        guard case .started(let user, let answer, _) = try await f.turns.begin(first, keysValidSince: t0) else {
            Issue.record("the first begin must write")
            return
        }
        #expect(user.position == 1 && answer.position == 2)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.ann.id)?.title == "Question")
        #expect(try await f.turns.begin(start("k1"), keysValidSince: t0) == .alreadyStarted(try #require(first.idempotency)))
        #expect(try await f.messages.all(sessionID: s.id).count == 2)

        // One answer per session at a time, whoever begins it: a second begin while the first
        // answer is streaming is refused, by the database.
        await #expect(throws: DomainError.turnInProgress) { try await f.turns.begin(start(nil), keysValidSince: t0) }
        var finished = answer
        finished.status = .complete
        try await f.messages.update(finished)

        // A later turn does not retitle; an expired key starts a new turn.
        try await f.sessions.update(ChatSession(id: s.id, ownerID: s.ownerID, projectID: nil, title: ChatSession.defaultTitle, model: "mock",
                                                createdAt: t0, updatedAt: t0))
        guard case .started(let again, _, _) = try await f.turns.begin(start("k1"), keysValidSince: t0.addingTimeInterval(1)) else {
            Issue.record("an expired key must not hold")
            return
        }
        #expect(again.position == 3)
        #expect(try await f.sessions.find(id: s.id, ownerID: f.ann.id)?.title == ChatSession.defaultTitle)
        #expect(try await f.turns.idempotencyRecord(userID: f.ann.id, key: "k1", since: t0) != nil)
        #expect(try await f.turns.idempotencyRecord(userID: f.bob.id, key: "k1", since: t0) == nil)
        #expect(try await f.turns.purgeIdempotencyKeys(before: t0.addingTimeInterval(1)) == 1)
        #expect(try await f.turns.idempotencyRecord(userID: f.ann.id, key: "k1", since: t0) == nil)
        await f.db.close()
    }
}
