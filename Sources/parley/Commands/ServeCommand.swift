#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChatAPI
import HTTPServer
import Logging

/// `parley serve`: the chat server, configured from the environment.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server (configured by environment variables; see .env.example)."
    )

    func run() async throws {
        let config: AppConfiguration
        do {
            config = try AppConfiguration(environment: Environment.load())
        } catch {
            ConsoleError.write("parley: \(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        LogSetup.bootstrap(format: config.logFormat, level: config.logLevel)
        let logger = Logger(label: "parley")

        var routes = RouterBuilder()
        SystemRoutes.register(on: &routes, version: Parley.version)
        let router = routes.build(defaultBodyLimit: config.maxBodyBytes, logger: Logger(label: "parley.http"))
        let server = Server(configuration: config.server, responder: router, logger: Logger(label: "parley.http"))
        logger.info("starting parley", metadata: ["parley.version": "\(Parley.version)"])
        do {
            try await ServerLifecycle.run(server, grace: config.shutdownGrace, logger: logger)
        } catch {
            throw ExitCode(1)
        }
    }
}

enum ConsoleError {
    static func write(_ message: String) {
        var line = message + "\n"
        line.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
