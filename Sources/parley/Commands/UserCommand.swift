#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChatCore
import Logging
import Storage

/// `parley user create|list|set-password|disable|enable|role`: accounts from the command line,
/// for the operator (no sign-in; the last-admin guard holds as over the API).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage accounts.",
        subcommands: [Create.self, List.self, SetPassword.self, Disable.self, Enable.self, SetRole.self]
    )

    /// Runs `body` with the services, reporting a refusal on standard error and exit status 1.
    static func withServices(_ name: String, _ body: (AppServices) async throws -> Void) async throws {
        let config = try AppConfiguration.loadOrExit()
        LogSetup.bootstrap(format: config.logFormat, level: .warning)
        do {
            let services = try await AppServices.build(config, logger: Logger(label: "parley.user"))
            do {
                try await body(services)
            } catch {
                await services.database.close()
                throw error
            }
            await services.database.close()
        } catch let error as DomainError {
            StandardError.write("parley user \(name): \(Create.explain(error))")
            throw ExitCode(1)
        } catch let error as ExitCode {
            throw error
        } catch {
            StandardError.write("parley user \(name): \(error)")
            throw ExitCode(1)
        }
    }

    /// The account with `email`, or a message and exit status 1.
    static func account(_ email: String, in services: AppServices, command: String) async throws -> User {
        guard let address = try? EmailAddress(email), let user = try await services.auth.users.find(email: address) else {
            StandardError.write("parley user \(command): no account has the e-mail \(email)")
            throw ExitCode(1)
        }
        return user
    }

    /// Changes the role or the state of the account with `email` and prints it as it is now.
    static func update(_ email: String, command: String, role: Role? = nil, isActive: Bool? = nil) async throws {
        try await withServices(command) { services in
            let user = try await account(email, in: services, command: command)
            print(line(try await UpdateUser(services.auth).asOperator(id: user.id, role: role, isActive: isActive)))
        }
    }

    static func line(_ user: User) -> String {
        "\(user.email?.value ?? "(guest)")\t\(user.role.rawValue)\t\(user.isActive ? "active" : "disabled")\t\(user.id)"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts, newest first: e-mail, role, state, id.")

        @Option(help: "Only accounts whose e-mail contains this (any case).")
        var email: String?

        func run() async throws {
            try await UserCommand.withServices("list") { services in
                var cursor: String?
                repeat {
                    let page = try await ListUsers(services.auth).asOperator(emailContaining: email, limit: 100, cursor: cursor)
                    for user in page.items { print(UserCommand.line(user)) }
                    cursor = page.nextCursor
                } while cursor != nil
            }
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Set an account's password (read like create's) and end its sign-ins."
        )

        @Option(help: "The account's e-mail address.")
        var email: String

        func run() async throws {
            guard let password = PasswordPrompt.read(prompt: "New password for \(email): ") else {
                StandardError.write("parley user set-password: no password given")
                throw ExitCode(1)
            }
            try await UserCommand.withServices("set-password") { services in
                let user = try await UserCommand.account(email, in: services, command: "set-password")
                try await ResetPassword(services.auth).asOperator(id: user.id, password: password)
                print("password set for \(email); its sign-ins ended")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: it can no longer sign in or use its keys.")

        @Option(help: "The account's e-mail address.")
        var email: String

        func run() async throws {
            try await UserCommand.update(email, command: "disable", isActive: false)
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")

        @Option(help: "The account's e-mail address.")
        var email: String

        func run() async throws {
            try await UserCommand.update(email, command: "enable", isActive: true)
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Make an account an admin or a user.")

        @Option(help: "The account's e-mail address.")
        var email: String

        @Option(help: "admin or user.")
        var role: String

        func run() async throws {
            guard let chosen = Role(rawValue: role), chosen != .guest else {
                StandardError.write("parley user role: --role must be admin or user")
                throw ExitCode(1)
            }
            try await UserCommand.update(email, command: "role", role: chosen)
        }
    }

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
            case .lastAdmin: "this is the last active admin: make another account an admin first"
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
