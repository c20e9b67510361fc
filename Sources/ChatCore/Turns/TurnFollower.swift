/// One reader's view of a turn from a byte offset on: live from this process, replayed from
/// storage once finished, or, for a turn another instance runs, live from its tail (through
/// Redis) with its checkpoints in storage as the fallback.
public struct TurnFollower: Sendable {
    /// `indirect`: a reader waits inside `next()` for as long as its stream is open, and an
    /// inline `Message` made that wait's async frame (kept per open stream) 0.6 KiB larger.
    indirect enum Source: Sendable {
        case live(Turn)
        case stored(Message)
        case elsewhere(Message, messages: any MessageRepository, settings: ChatSettings, tail: (any TurnTail)?)
    }

    private(set) var source: Source
    /// The content bytes the reader already has.
    public private(set) var offset: Int

    init(_ source: Source, offset: Int) {
        self.source = source
        self.offset = offset
    }

    public mutating func next() async -> TurnUpdate {
        let update: TurnUpdate
        switch source {
        case .live(let turn):
            update = await turn.next(after: offset)
        case .stored(let message):
            update = Self.stored(message, after: offset)
        case .elsewhere(let message, let messages, let settings, let tail?):
            if let tailed = await Self.follow(tail, message, messages, settings, after: offset) {
                update = tailed
            } else {
                source = .elsewhere(message, messages: messages, settings: settings, tail: nil)
                update = await Self.poll(message, messages, settings, after: offset)
            }
        case .elsewhere(let message, let messages, let settings, nil):
            update = await Self.poll(message, messages, settings, after: offset)
        }
        if case .content(_, let newOffset) = update { offset = newOffset }
        return update
    }

    private static func stored(_ message: Message, after offset: Int) -> TurnUpdate {
        let bytes = message.content.utf8
        if bytes.count > offset {
            return .content(String(decoding: bytes.dropFirst(offset), as: UTF8.self), offset: bytes.count)
        }
        return .ended(.done(message))
    }

    /// The next update from another instance's tail: each piece placed by its offset, storage
    /// consulted when the tail goes quiet (an owner that died, a lost request to publish) or
    /// skipped bytes the reader lacks, and read for the end. Nil when the tail cannot serve
    /// this reader (it lost bytes storage does not have yet): follow storage alone from here.
    private static func follow(_ tail: any TurnTail, _ message: Message, _ messages: any MessageRepository, _ settings: ChatSettings,
                               after offset: Int) async -> TurnUpdate? {
        var waited: Duration = .zero
        while waited < settings.keepAliveInterval {
            switch await tail.next(timeout: settings.followPollInterval) {
            case .content(let start, let text):
                let bytes = text.utf8
                let end = start + bytes.count
                if end <= offset { continue }
                if start <= offset { return .content(String(decoding: bytes.dropFirst(offset - start), as: UTF8.self), offset: end) }
                // The tail skipped bytes this reader lacks: its checkpoints may hold them.
                guard let current = try? await messages.find(id: message.id, sessionID: message.sessionID) else { return nil }
                let stored = current.content.utf8
                guard stored.count >= start else { return current.status == .streaming ? nil : Self.stored(current, after: offset) }
                return .content(String(decoding: stored.dropFirst(offset).prefix(start - offset), as: UTF8.self) + text, offset: end)
            case .ended:
                guard let current = try? await messages.find(id: message.id, sessionID: message.sessionID), current.status != .streaming else {
                    return nil  // saved later by its owner (or the sweep): storage says when
                }
                return stored(current, after: offset)
            case .timedOut:
                waited += settings.followPollInterval
                guard let current = try? await messages.find(id: message.id, sessionID: message.sessionID) else { continue }
                if current.content.utf8.count > offset || current.status != .streaming { return stored(current, after: offset) }
            case .cancelled:
                return .detached
            }
        }
        return .heartbeat
    }

    /// Reads the row until it has more than `offset` bytes or is no longer `streaming`, with
    /// a heartbeat every keep-alive interval.
    private static func poll(_ message: Message, _ messages: any MessageRepository, _ settings: ChatSettings, after offset: Int) async -> TurnUpdate {
        var waited: Duration = .zero
        while waited < settings.keepAliveInterval {
            do {
                try await CancellableSleep.for(settings.followPollInterval)
            } catch {
                return .detached
            }
            waited += settings.followPollInterval
            // A database hiccup is one missed poll; the next one tries again.
            guard let current = try? await messages.find(id: message.id, sessionID: message.sessionID) else { continue }
            if current.content.utf8.count > offset || current.status != .streaming {
                return stored(current, after: offset)
            }
        }
        return .heartbeat
    }
}
