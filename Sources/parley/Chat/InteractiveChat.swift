#if canImport(Glibc)
import Glibc
#endif
import ChatClient
import FoundationEssentials
import Synchronization

/// The read-eval-print loop of `parley chat`.
struct InteractiveChat {
    let api: ParleyAPI
    let interrupts = Interrupts()

    static let help = """
    Type a message and press Enter. A paste is sent as one message, whatever lines it holds;
    to type several lines, start with a line of three double quotes (\"\"\") and end with another.
    Commands:
      /new [title]    start a new session (made when you send its first message)
      /sessions       list your sessions
      /switch N       continue session N of the list
      /history        show this session's messages (its active branch)
      /regenerate     another answer to your last message (the old one stays as a branch)
      /edit TEXT      replace your last message with TEXT and get a new answer (the old
                      message and its answer stay as a branch)
      /search WORDS   find your messages holding every word ("quoted phrases" too);
                      /switch to a session from the list it shows
      /rename TITLE   rename this session
      /delete         delete this session and its messages (asks first)
      /export [file]  write this session as Markdown (to the screen without a file)
      /model [id]     show the models, or use one in this session
      /usage          your limits and what is left
      /logout         sign out here and on the server, then sign in again
      /help           this list
      /quit           leave (also `exit`, `quit`, Ctrl-D)
    Ctrl-C stops an answer while it streams, and a wait for a limit; at the prompt it asks to quit.

    """

    /// Sent by a terminal around pasted text once asked to (bracketed paste), so a paste of
    /// several lines is one message and never a half one.
    static let pasteStart = "\u{1b}[200~", pasteEnd = "\u{1b}[201~"
    /// The line that opens and closes a block of several typed lines.
    static let blockFence = "\"\"\""

    func run() async {
        var state = State()
        guard await signIn() else { return }
        do {
            state.maxLength = try await api.usage().maxMessageLength
        } catch {
            Console.error("parley chat: \(error)\n")
            return
        }
        Console.write("Connected to \(api.baseURL). /help lists the commands.\n")
        Terminal.bracketedPaste(true)
        defer { Terminal.bracketedPaste(false) }
        while true {
            Console.write("You: ")
            guard let input = await readInput() else {
                Console.write("\n")
                return
            }
            do {
                switch input {
                case .line(let line):
                    let text = line.trimmedSpaces
                    if text.isEmpty { continue }
                    if ["/quit", "exit", "quit"].contains(text) { return }
                    if text == "/logout" {
                        try await api.logOut()
                        state = State(maxLength: state.maxLength)
                        Console.write("Signed out.\n")
                        guard await signIn() else { return }
                    } else if text.hasPrefix("/") {
                        try await command(text, &state)
                    } else {
                        try await send(text, &state)
                    }
                case .message(let text):
                    let message = text.trimmingBlankLines
                    if message.isEmpty {
                        Console.write("Nothing to send.\n")
                    } else {
                        try await send(message, &state)
                    }
                }
            } catch ClientError.signedOut {
                Console.write("Your sign-in has expired. Sign in again.\n")
                guard await signIn() else { return }
            } catch {
                Console.write("\(error)\n")
            }
        }
    }

    struct State {
        var session: SessionItem?
        /// What `/new` and `/model` asked of the session the next message will start.
        var pendingTitle: String?
        var pendingModel: String?
        var listed: [SessionItem] = []
        var maxLength: Int?
    }

    /// What was typed at the prompt: one line (a message or a command), or a message of
    /// several lines (a paste or a block), never read as a command.
    enum Input {
        case line(String)
        case message(String)
    }

    /// One input: a line; a paste, read until its end marker, as one message; or a block of
    /// lines between two `\"\"\"` lines. Nil at the end of input; an input cut off by it is not sent.
    private func readInput() async -> Input? {
        guard let line = await prompt() else { return nil }
        if line.contains(Self.pasteStart) {
            var text = line
            while !text.contains(Self.pasteEnd) {
                guard let next = await Console.readLine() else { return nil }
                text += "\n" + next
            }
            return .message(text.removingAll(Self.pasteStart).removingAll(Self.pasteEnd))
        }
        guard line.trimmedSpaces == Self.blockFence else { return .line(line) }
        Console.write("(several lines: end with a line holding only \(Self.blockFence))\n")
        var lines: [String] = []
        while true {
            Console.write("... ")
            guard let next = await prompt() else {
                Console.write("\nThe input ended inside the block; nothing was sent.\n")
                return nil
            }
            if next.trimmedSpaces == Self.blockFence { return .message(lines.joined(separator: "\n")) }
            lines.append(next.removingAll(Self.pasteStart).removingAll(Self.pasteEnd))
        }
    }

    /// Reads a line; Ctrl-C here asks to quit, and a second one quits.
    private func prompt() async -> String? {
        let asked = Atomic<Bool>(false)
        return await interrupts.during({
            if asked.exchange(true, ordering: .relaxed) {
                Console.write("\n")
                Terminal.bracketedPaste(false)
                exit(0)
            }
            Console.write("\nQuit? Press Ctrl-C again to quit, or type to go on.\nYou: ")
        }) {
            await Console.readLine()
        }
    }

    // MARK: - Signing in

    /// Uses the stored tokens if the server still takes them; else asks how to sign in.
    private func signIn() async -> Bool {
        if api.credentials != nil, (try? await api.usage()) != nil { return true }
        while true {
            Console.write("Log in (l), register (r) or continue as a guest (g)? [l] ")
            guard let choice = await Console.readLine()?.lowercased().trimmedSpaces else { return false }
            do {
                switch choice {
                case "", "l", "login", "log in":
                    if try await logIn() { return true }
                case "r", "register":
                    Console.write("E-mail: ")
                    guard let email = await Console.readLine(), let password = await Console.readSecret(prompt: "Password (8 or more characters): ") else { return false }
                    _ = try await api.register(email: email, password: password)
                    Console.write("Registered and signed in as \(email).\n")
                    return true
                case "g", "guest":
                    _ = try await api.guest()
                    Console.write("Signed in as a guest.\n")
                    return true
                default:
                    Console.write("Type l, r or g.\n")
                }
            } catch ClientError.unreachable(let url, let reason) {
                Console.write("\(ClientError.unreachable(url: url, reason: reason))\n")
                return false
            } catch {
                Console.write("\(error)\n")
            }
        }
    }

    /// Three tries at e-mail and password.
    private func logIn() async throws -> Bool {
        Console.write("E-mail: ")
        guard let email = await Console.readLine() else { return false }
        for attempt in 1...3 {
            guard let password = await Console.readSecret(prompt: "Password: ") else { return false }
            do {
                _ = try await api.logIn(email: email, password: password)
                Console.write("Signed in as \(email).\n")
                return true
            } catch ClientError.refused(status: 401, _, _) {
                Console.write(attempt < 3 ? "Wrong e-mail or password; try again.\n" : "Wrong e-mail or password.\n")
            }
        }
        return false
    }

    // MARK: - Sending

    private func send(_ text: String, _ state: inout State) async throws {
        if let limit = state.maxLength, text.count > limit {
            Console.write("Your message has \(text.count) characters; the server accepts at most \(limit). Nothing was sent.\n")
            return
        }
        while true {
            let created = state.session == nil
            let pending = (state.pendingTitle, state.pendingModel)
            let session = try await currentSession(&state)
            do {
                try await show(try await api.send(text, session: session.id), session: session.id)
                return
            } catch let refusal as ClientError {
                guard case .rateLimited(_, let retryAfter, _) = refusal else { throw refusal }
                if created {
                    // The session was made for this message: it does not stay behind empty.
                    try? await api.deleteSession(session.id)
                    state.session = nil
                    (state.pendingTitle, state.pendingModel) = pending
                }
                guard await waitOut(refusal, seconds: retryAfter) else { return }
            }
        }
    }

    /// The session the next message goes to, made now if there is none yet (with what `/new`
    /// and `/model` asked for), so no session is ever left empty.
    private func currentSession(_ state: inout State) async throws -> SessionItem {
        if let session = state.session { return session }
        let session = try await api.newSession(title: state.pendingTitle, model: state.pendingModel)
        state.session = session
        (state.pendingTitle, state.pendingModel) = (nil, nil)
        return session
    }

    /// The longest wait counted down; a longer one (a daily quota) is only reported.
    static let longestCountdown = 600

    /// Says which limit refused the message and counts down to when it lifts (Ctrl-C stops
    /// waiting), then offers to send the message again; true if the user wants that.
    private func waitOut(_ refusal: ClientError, seconds: Int) async -> Bool {
        Console.write("\(refusal)\n")
        guard seconds <= Self.longestCountdown else {
            Console.write("That is \(Self.duration(seconds)) away; your message was not sent.\n")
            return false
        }
        let stopped = Atomic<Bool>(false)
        let start = ContinuousClock.now
        await interrupts.during({ stopped.store(true, ordering: .relaxed) }) {
            var shown = -1
            while !stopped.load(ordering: .relaxed) {
                let left = seconds - Int((ContinuousClock.now - start).components.seconds)
                if left <= 0 { break }
                if left != shown {
                    Console.write("\rSending is possible again in \(left) s (Ctrl-C stops waiting)   ")
                    shown = left
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        Console.write("\n")
        if stopped.load(ordering: .relaxed) {
            Console.write("Stopped waiting; your message was not sent.\n")
            return false
        }
        Console.write("Send your message again? [Y/n] ")
        guard let answer = await Console.readLine()?.trimmedSpaces.lowercased() else { return false }
        return ["", "y", "yes"].contains(answer)
    }

    static func duration(_ seconds: Int) -> String {
        seconds >= 3600 ? "\(seconds / 3600) h \(seconds % 3600 / 60) min" : "\(seconds / 60) min \(seconds % 60) s"
    }

    /// Prints an answer as it streams; Ctrl-C meanwhile stops it on the server.
    private func show(_ events: AsyncThrowingStream<AnswerEvent, any Error>, session: String) async throws {
        let api = self.api
        let stopped = Atomic<Bool>(false)
        Console.write("parley: ")
        var resumed = false
        try await interrupts.during({
            guard !stopped.exchange(true, ordering: .relaxed) else { return }
            Task { try? await api.stop(session: session) }
        }) {
            for try await event in events {
                switch event {
                case .started: continue
                case .resumed: resumed = true
                case .delta(let delta): Console.write(TerminalText.sanitize(delta))
                case .done(let message, let cached):
                    switch message.status {
                    case "complete": Console.write(cached ? "\n(from the cache)\n" : "\n")
                    case "interrupted": Console.write("\n[interrupted]\n")
                    default: Console.write("\n[\(message.status)]\n")
                    }
                    if resumed { Console.write("(the connection dropped during this answer; it was picked up where it stopped)\n") }
                case .failed(let code, let message):
                    Console.write("\n[failed: \(code): \(TerminalText.sanitize(message))]\n")
                }
            }
        }
    }

    // MARK: - Commands

    private func command(_ input: String, _ state: inout State) async throws {
        let parts = input.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1].trimmedSpaces : nil
        switch parts[0] {
        case "/help":
            Console.write(Self.help)
        case "/new":
            (state.pendingTitle, state.pendingModel) = (argument, state.session?.model ?? state.pendingModel)
            state.session = nil
            Console.write(argument.map { "New session: \(TerminalText.sanitize($0)). It starts with your next message.\n" }
                          ?? "New session: it starts with your next message.\n")
        case "/sessions":
            state.listed = try await api.sessions()
            for (index, item) in state.listed.enumerated() {
                let marker = item.id == state.session?.id ? "*" : " "
                Console.write("\(marker) \(index + 1). \(TerminalText.sanitize(item.title)) (\(item.model))\n")
            }
            if state.listed.isEmpty { Console.write("No sessions yet.\n") }
        case "/switch":
            if state.listed.isEmpty { state.listed = try await api.sessions() }
            guard let number = argument.flatMap(Int.init), (1...state.listed.count).contains(number) else {
                Console.write("Give a number from /sessions (1 to \(state.listed.count)).\n")
                return
            }
            state.session = state.listed[number - 1]
            (state.pendingTitle, state.pendingModel) = (nil, nil)
            Console.write("Now in: \(TerminalText.sanitize(state.listed[number - 1].title)).\n")
        case "/history":
            guard let session = try needSession(state) else { return }
            for message in try await api.history(session: session.id) {
                let who = message.role == "user" ? "You" : "parley"
                let status = message.status == "complete" ? "" : " [\(message.status)]"
                var version = ""
                if let siblings = message.siblings, let index = message.siblingIndex, siblings > 1 { version = " (version \(index + 1) of \(siblings))" }
                Console.write("\(who)\(version): \(TerminalText.sanitize(message.content))\(status)\n")
            }
        case "/regenerate":
            guard let session = try needSession(state) else { return }
            guard let answer = try await api.history(session: session.id).last(where: { $0.role == "assistant" }) else {
                Console.write("There is no answer to regenerate yet.\n")
                return
            }
            try await show(try await api.regenerate(answer: answer.id, session: session.id), session: session.id)
        case "/edit":
            guard let session = try needSession(state) else { return }
            guard let text = argument, !text.isEmpty else {
                Console.write("Give the new text: /edit TEXT.\n")
                return
            }
            guard let question = try await api.history(session: session.id).last(where: { $0.role == "user" }) else {
                Console.write("There is no message of yours to edit yet.\n")
                return
            }
            if let limit = state.maxLength, text.count > limit {
                Console.write("Your message has \(text.count) characters; the server accepts at most \(limit). Nothing was sent.\n")
                return
            }
            try await show(try await api.send(text, session: session.id, after: .some(question.parentId)), session: session.id)
        case "/search":
            guard let query = argument, !query.isEmpty else {
                Console.write("Give the words to look for: /search WORDS.\n")
                return
            }
            let hits = try await api.search(query)
            if hits.isEmpty { Console.write("Nothing found.\n") }
            // The sessions of the hits, in order, become the list /switch picks from.
            var sessions: [SessionItem] = []
            let all = try await api.sessions()
            for hit in hits where !sessions.contains(where: { $0.id == hit.sessionId }) {
                if let session = all.first(where: { $0.id == hit.sessionId }) { sessions.append(session) }
            }
            if !sessions.isEmpty { state.listed = sessions }
            for hit in hits {
                let number = sessions.firstIndex { $0.id == hit.sessionId }.map { "\($0 + 1). " } ?? ""
                let who = hit.role == "user" ? "You" : "parley"
                Console.write("\(number)\(TerminalText.sanitize(hit.sessionTitle)) · \(who): \(TerminalText.sanitize(hit.snippet.split(whereSeparator: \.isNewline).joined(separator: " ")))\n")
            }
        case "/rename":
            guard let session = try needSession(state) else { return }
            guard let title = argument, !title.isEmpty else {
                Console.write("Give the new title: /rename TITLE.\n")
                return
            }
            state.session = try await api.rename(session: session.id, to: title)
            Console.write("Renamed: \(TerminalText.sanitize(state.session?.title ?? title)).\n")
        case "/delete":
            guard let session = try needSession(state) else { return }
            Console.write("Delete \(TerminalText.sanitize(session.title)) and all its messages? [y/N] ")
            guard let answer = await Console.readLine()?.trimmedSpaces.lowercased(), ["y", "yes"].contains(answer) else {
                Console.write("Kept.\n")
                return
            }
            try await api.deleteSession(session.id)
            state.session = nil
            state.listed.removeAll { $0.id == session.id }
            Console.write("Deleted. Your next message starts a new session.\n")
        case "/export":
            guard let session = try needSession(state) else { return }
            let markdown = try await api.export(session: session.id, format: "markdown")
            if let file = argument {
                guard FileManager.default.createFile(atPath: file, contents: Data(markdown)) else {
                    Console.write("Cannot write \(file).\n")
                    return
                }
                Console.write("Wrote \(file).\n")
            } else {
                Console.write(TerminalText.sanitize(String(decoding: markdown, as: UTF8.self)))
            }
        case "/model":
            let models = try await api.models()
            guard let model = argument else {
                let current = state.session?.model ?? state.pendingModel ?? models.first
                for model in models { Console.write("\(model == current ? "*" : " ") \(model)\n") }
                return
            }
            if let session = state.session {
                state.session = try await api.setModel(model, session: session.id)
                Console.write("This session now uses \(model).\n")
            } else if models.contains(model) {
                state.pendingModel = model
                Console.write("The session your next message starts will use \(model).\n")
            } else {
                Console.write("This server offers \(models.joined(separator: ", ")); /model lists them.\n")
            }
        case "/usage":
            let usage = try await api.usage()
            Console.write("Role: \(usage.role)\n")
            for tier in usage.tiers {
                Console.write("  \(tier.tier): \(tier.used) of \(tier.limit) used, \(tier.remaining) left (resets \(tier.resetAt))\n")
            }
            if usage.tiers.isEmpty { Console.write("  no limits\n") }
        default:
            Console.write("Unknown command \(parts[0]); /help lists them.\n")
        }
    }
    /// The current session, or nil after saying there is none yet.
    private func needSession(_ state: State) throws -> SessionItem? {
        guard let session = state.session else {
            Console.write("No session yet: send a message to start one (or /switch to one of /sessions).\n")
            return nil
        }
        return session
    }
}

extension String {
    /// Without blank lines (and line breaks) at either end.
    var trimmingBlankLines: String {
        var lines = split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while let first = lines.first, String(first).trimmedSpaces.isEmpty { lines.removeFirst() }
        while let last = lines.last, String(last).trimmedSpaces.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    func removingAll(_ part: String) -> String {
        split(separator: part, omittingEmptySubsequences: false).joined()
    }

    /// Without leading and trailing spaces and tabs.
    var trimmedSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
