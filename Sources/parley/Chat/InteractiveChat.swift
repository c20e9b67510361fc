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
    Type a message and press Enter. Commands:
      /new [title]    start a new session
      /sessions       list your sessions
      /switch N       continue session N of the list
      /history        show this session's messages (its active branch)
      /regenerate     another answer to your last message (the old one stays as a branch)
      /edit TEXT      replace your last message with TEXT and get a new answer (the old
                      message and its answer stay as a branch)
      /export [file]  write this session as Markdown (to the screen without a file)
      /model [id]     show the models, or use one in this session
      /usage          your limits and what is left
      /help           this list
      /quit           leave (also `exit`, `quit`, Ctrl-D)
    Ctrl-C stops an answer while it streams; at the prompt it asks to quit.

    """

    func run() async {
        var state = State()
        guard await signIn() else { return }
        do {
            state.maxLength = try await api.usage().maxMessageLength
            state.session = try await api.newSession(title: nil, model: nil)
        } catch {
            Console.error("parley chat: \(error)\n")
            return
        }
        Console.write("Connected to \(api.baseURL). /help lists the commands.\n")
        while true {
            Console.write("You: ")
            guard let line = await prompt() else {
                Console.write("\n")
                return
            }
            let input = line.trimmedSpaces
            if input.isEmpty { continue }
            if ["/quit", "exit", "quit"].contains(input) { return }
            do {
                if input.hasPrefix("/") {
                    try await command(input, &state)
                } else {
                    try await send(input, &state)
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
        var listed: [SessionItem] = []
        var maxLength: Int?
    }

    /// Reads a line; Ctrl-C here asks to quit, and a second one quits.
    private func prompt() async -> String? {
        let asked = Atomic<Bool>(false)
        return await interrupts.during({
            if asked.exchange(true, ordering: .relaxed) {
                Console.write("\n")
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
        guard let session = state.session else { return }
        if let limit = state.maxLength, text.count > limit {
            Console.write("Your message has \(text.count) characters; the server accepts at most \(limit). Nothing was sent.\n")
            return
        }
        try await show(try await api.send(text, session: session.id), session: session.id)
    }

    /// Prints an answer as it streams; Ctrl-C meanwhile stops it on the server.
    private func show(_ events: AsyncThrowingStream<AnswerEvent, any Error>, session: String) async throws {
        let api = self.api
        let stopped = Atomic<Bool>(false)
        Console.write("parley: ")
        try await interrupts.during({
            guard !stopped.exchange(true, ordering: .relaxed) else { return }
            Task { try? await api.stop(session: session) }
        }) {
            for try await event in events {
                switch event {
                case .started: continue
                case .delta(let delta): Console.write(TerminalText.sanitize(delta))
                case .done(let message, let cached):
                    switch message.status {
                    case "complete": Console.write(cached ? "\n(from the cache)\n" : "\n")
                    case "interrupted": Console.write("\n[interrupted]\n")
                    default: Console.write("\n[\(message.status)]\n")
                    }
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
            let session = try await api.newSession(title: argument, model: state.session?.model)
            state.session = session
            Console.write("New session: \(TerminalText.sanitize(session.title)).\n")
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
            Console.write("Now in: \(TerminalText.sanitize(state.listed[number - 1].title)).\n")
        case "/history":
            guard let session = state.session else { return }
            for message in try await api.history(session: session.id) {
                let who = message.role == "user" ? "You" : "parley"
                let status = message.status == "complete" ? "" : " [\(message.status)]"
                var version = ""
                if let siblings = message.siblings, let index = message.siblingIndex, siblings > 1 { version = " (version \(index + 1) of \(siblings))" }
                Console.write("\(who)\(version): \(TerminalText.sanitize(message.content))\(status)\n")
            }
        case "/regenerate":
            guard let session = state.session else { return }
            guard let answer = try await api.history(session: session.id).last(where: { $0.role == "assistant" }) else {
                Console.write("There is no answer to regenerate yet.\n")
                return
            }
            try await show(try await api.regenerate(answer: answer.id, session: session.id), session: session.id)
        case "/edit":
            guard let session = state.session else { return }
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
        case "/export":
            guard let session = state.session else { return }
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
            guard let session = state.session else { return }
            if let model = argument {
                state.session = try await api.setModel(model, session: session.id)
                Console.write("This session now uses \(model).\n")
            } else {
                for model in try await api.models() { Console.write("\(model == session.model ? "*" : " ") \(model)\n") }
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
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmedSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
