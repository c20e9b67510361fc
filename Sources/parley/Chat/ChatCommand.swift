#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChatClient
import FoundationEssentials
import Synchronization

/// `parley chat`: a terminal client of a parley server, or one message from a script.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a parley server from the terminal, or send one message from a script.",
        discussion: "Interactive: sign in (or continue as a guest), then type. /help lists the commands; Ctrl-C stops an answer; Ctrl-D or /quit leaves."
    )

    @Option(help: "The server (default: PARLEY_URL, else http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "Send this message and print the answer, then exit (\"-\" reads it from standard input).")
    var message: String?

    @Option(help: "With --message: the session to send it in (default: a new one).")
    var session: String?

    @Flag(help: "With --message: print the answer as JSON (message and usage).")
    var json = false

    @Option(help: "A personal API key (pk_…) to use instead of signing in (default: PARLEY_API_KEY). Never stored.")
    var apiKey: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let base = url ?? environment["PARLEY_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"
        let key = apiKey ?? environment["PARLEY_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let api = try ParleyAPI(baseURL: base, store: CredentialStore(), apiKey: key)
        if let message {
            throw ExitCode(await ScriptedChat(api: api, json: json).send(message == "-" ? await Console.readAll() : message, session: session))
        }
        guard session == nil, !json else {
            Console.error("parley chat: --session and --json go with --message")
            throw ExitCode(64)
        }
        await InteractiveChat(api: api).run()
    }
}

/// `parley chat --message`: one message, the answer on standard output, the status says how it went.
struct ScriptedChat {
    let api: ParleyAPI
    let json: Bool

    /// 0 when the answer completed; 1 otherwise (the reason on standard error).
    func send(_ content: String, session: String?) async -> Int32 {
        do {
            if api.credentials == nil { _ = try await api.guest() }
            var sessionID = session ?? ""
            if session == nil { sessionID = try await api.newSession(title: nil, model: nil).id }
            var answer = ""
            for try await event in try await api.send(content, session: sessionID) {
                switch event {
                case .started, .resumed: continue
                case .delta(let text): answer += text
                case .failed(let code, let message):
                    Console.error("parley chat: the answer failed (\(code)): \(message)")
                    return 1
                case .done(let message, _):
                    if json {
                        Console.write(Self.json(message, session: sessionID) + "\n")
                    } else {
                        Console.write(TerminalText.sanitize(message.content) + "\n")
                    }
                    return message.status == "complete" ? 0 : 1
                }
            }
            Console.error("parley chat: the answer ended early" + (answer.isEmpty ? "" : " after: \(answer)"))
            return 1
        } catch {
            Console.error("parley chat: \(error)")
            return 1
        }
    }

    static func json(_ message: MessageItem, session: String) -> String {
        struct Output: Encodable {
            struct Usage: Encodable {
                let promptTokens: Int
                let completionTokens: Int
            }
            let sessionId: String
            let messageId: String
            let status: String
            let content: String
            let usage: Usage?
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let output = Output(sessionId: session, messageId: message.id, status: message.status, content: message.content,
                            usage: message.usage.map { Output.Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens) })
        return (try? encoder.encode(output)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
