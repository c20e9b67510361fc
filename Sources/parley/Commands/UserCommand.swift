#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChatCore
import Logging
import Storage

/// `parley user create --email E [--admin]`: bootstrap accounts from the command line.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage accounts.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account. The password is read from the terminal (hidden) or from standard input, never from the command line."
        )

        @Option(help: "The account's e-mail address.")
        var email: String

        @Flag(help: "Make the account an admin.")
        var admin = false

        func run() async throws {
            let config = try AppConfiguration.loadOrExit()
            LogSetup.bootstrap(format: config.logFormat, level: .warning)
            guard let password = PasswordPrompt.read(prompt: "Password for \(email): ") else {
                StandardError.write("parley user create: no password given")
                throw ExitCode(1)
            }
            do {
                let services = try await AppServices.build(config, logger: Logger(label: "parley.user"))
                let user = try await CreateUser(services.auth)(email: email, password: password, role: admin ? .admin : .user)
                await services.database.close()
                print("created \(user.role.rawValue) \(user.email?.value ?? "") (\(user.id))")
            } catch let error as DomainError {
                StandardError.write("parley user create: \(Self.explain(error))")
                throw ExitCode(1)
            } catch {
                StandardError.write("parley user create: \(error)")
                throw ExitCode(1)
            }
        }

        static func explain(_ error: DomainError) -> String {
            switch error {
            case .validation(let fields): fields.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
            case .emailTaken: "an account with this e-mail already exists"
            default: "\(error)"
            }
        }
    }
}

/// Reads a password with echo off when standard input is a terminal, else one line of input.
enum PasswordPrompt {
    static func read(prompt: String) -> String? {
        let isTerminal = isatty(0) == 1
        var saved = termios()
        if isTerminal {
            StandardError.writeRaw(prompt)
            tcgetattr(0, &saved)
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(0, TCSANOW, &saved)
                StandardError.writeRaw("\n")
            }
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { return nil }
        return line
    }
}

extension StandardError {
    static func writeRaw(_ text: String) {
        var copy = text
        copy.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
