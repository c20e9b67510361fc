import ArgumentParser
import HTTPServer
import MockLLM
import Logging

/// `parley mock-llm`: an OpenAI-compatible upstream with scripted pace, for tests, demos and benchmarks.
struct MockLLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-llm",
        abstract: "Serve an OpenAI-compatible mock LLM (POST /v1/chat/completions, GET /v1/models)."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and logs it).")
    var port = 8081

    @Option(help: "Log format: json or text.")
    var logFormat = "text"

    func run() async throws {
        let termination = Signals.waitForTermination()
        LogSetup.bootstrap(format: logFormat == "json" ? .json : .text, level: .info)
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        // Its clients are parley instances: few addresses, each with one connection per
        // running answer, so no per-address share.
        configuration.maxConnectionsPerAddress = configuration.maxConnections
        var routes = RouterBuilder()
        let logger = Logger(label: "parley.mock-llm")
        MockUpstream.register(on: &routes, logger: logger)
        let server = Server(configuration: configuration, responder: routes.build(logger: logger), logger: logger)
        do {
            try await ServerLifecycle.run(server, grace: .seconds(10), logger: logger, termination: termination)
        } catch {
            throw ExitCode(1)
        }
    }
}
