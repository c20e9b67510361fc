import ArgumentParser

/// The parley command: one binary for the server and its tools.
@main
struct Parley: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "A self-hostable LLM chat server.",
        version: version,
        subcommands: [ServeCommand.self, MigrateCommand.self, UserCommand.self, MockLLMCommand.self, ChatCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
