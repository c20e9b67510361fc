#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// The terminal side of `parley chat`: output written straight to the descriptors (nothing
/// waits in a buffer while an answer streams), input read on a queue of its own so the
/// blocking read never holds a thread of the cooperative pool, and Ctrl-C delivered to
/// whatever is current (a streaming answer, or the prompt).
enum Console {
    static func write(_ text: String) {
        StandardOutput.write(text)
    }

    static func error(_ text: String) {
        StandardError.write(text)
    }

    private static let input = DispatchQueue(label: "parley.chat.input")

    /// One line from standard input; nil at end of input (Ctrl-D).
    static func readLine() async -> String? {
        await withCheckedContinuation { continuation in
            input.async { continuation.resume(returning: Swift.readLine(strippingNewline: true)) }
        }
    }

    /// A line typed without echo (a password).
    static func readSecret(prompt: String) async -> String? {
        await withCheckedContinuation { continuation in
            input.async { continuation.resume(returning: PasswordPrompt.read(prompt: prompt)) }
        }
    }

    /// The rest of standard input, for `--message -`, without the final line break.
    static func readAll() async -> String {
        await withCheckedContinuation { continuation in
            input.async {
                var lines: [String] = []
                while let line = Swift.readLine(strippingNewline: false) { lines.append(line) }
                var text = lines.joined()
                while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
                continuation.resume(returning: text)
            }
        }
    }
}

/// Routes SIGINT to the current handler instead of ending the process.
final class Interrupts: Sendable {
    private final class Current: Sendable {
        let handler = Mutex<(@Sendable () -> Void)?>(nil)
    }

    private let current = Current()
    private let sources = SignalSources()

    init() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let current = self.current
        source.setEventHandler { @Sendable in current.handler.withLock { $0 }?() }
        source.resume()
        sources.keep(source)
    }

    /// Runs `body` with `onInterrupt` as the Ctrl-C handler.
    func during<T>(_ onInterrupt: @escaping @Sendable () -> Void, _ body: () async throws -> T) async rethrows -> T {
        current.handler.withLock { $0 = onInterrupt }
        defer { current.handler.withLock { $0 = nil } }
        return try await body()
    }
}

/// The terminal's modes `parley chat` turns on while it runs.
enum Terminal {
    /// Asks the terminal to mark pastes (`ESC[200~` … `ESC[201~`), only when both ends are a
    /// terminal (never into a pipe or a file).
    static func bracketedPaste(_ on: Bool) {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { return }
        Console.write(on ? "\u{1b}[?2004h" : "\u{1b}[?2004l")
    }
}
