/// One reader's view of a turn from a byte offset on: live from this process, replayed from
/// storage once finished, or, for a turn another instance runs, read from its checkpoints.
public struct TurnFollower: Sendable {
    /// `indirect`: a reader waits inside `next()` for as long as its stream is open, and an
    /// inline `Message` made that wait's async frame (kept per open stream) 0.6 KiB larger.
    indirect enum Source: Sendable {
        case live(Turn)
        case stored(Message)
        case elsewhere(Message, messages: any MessageRepository, settings: ChatSettings)
    }

    let source: Source
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
        case .elsewhere(let message, let messages, let settings):
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

    /// Reads the row until it has more than `offset` bytes or is no longer `streaming`, with
    /// a heartbeat every keep-alive interval.
    private static func poll(_ message: Message, _ messages: any MessageRepository, _ settings: ChatSettings, after offset: Int) async -> TurnUpdate {
        var waited: Duration = .zero
        while waited < settings.keepAliveInterval {
            do {
                try await Task.sleep(for: settings.followPollInterval)
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
