#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChatAPI
import WebUI
import ChatCore
import HTTPServer
import Logging
import Storage

/// `parley serve`: the chat server, configured from the environment.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server (configured by environment variables; see .env.example)."
    )

    func run() async throws {
        let termination = Signals.waitForTermination()
        let config = try AppConfiguration.loadOrExit()
        LogSetup.bootstrap(format: config.logFormat, level: config.logLevel, secrets: config.secrets, instance: config.instanceID)
        let logger = Logger(label: "parley")
        logger.info("starting parley", metadata: ["parley.version": "\(Parley.version)"])
        for note in config.defaultsUsed { logger.info("using a default", metadata: ["parley.default": "\(note)"]) }

        let services: AppServices
        do {
            services = try await AppServices.build(config, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["parley.error": "\(error)"])
            throw ExitCode(1)
        }
        let housekeeping = services.startHousekeeping(logger: logger)
        let memoryReturn = MemoryReturn.start(registry: services.turns.registry)
        let sweep = services.startSweep(logger: logger)
        let searchIndexing = services.startSearchIndexing(logger: logger)

        let apiLogger = Logger(label: "parley.api")
        var routes = RouterBuilder()
        routes.use(RequestLogging(logger: Logger(label: "parley.access"), metrics: services.metrics.http,
                                  clients: ClientAddress(trusted: config.rateLimits.trustedProxies)))
        if let origins = config.corsOrigins { routes.use(CORS(origins: origins)) }
        let pending = services.turns.registry.pending
        let draining = DrainState()
        SystemRoutes.register(on: &routes, version: Parley.version, instance: config.instanceID,
                              readiness: [ReadinessCheck("accepting") { !draining.isDraining }] + services.readiness,
                              warnings: { ["unsaved_answers": pending.count] })
        let registry = services.metrics.http.registry
        var metricsServer: Server?
        if config.metricsToken == nil || config.metricsListener != nil {
            SystemRoutes.registerMetricsElsewhere(on: &routes, listener: config.metricsListener.map { "\($0.host):\($0.port == 0 ? "a free port" : String($0.port))" })
        }
        if let listener = config.metricsListener {
            var metricsRoutes = RouterBuilder()
            SystemRoutes.registerMetrics(on: &metricsRoutes, registry: registry, token: config.metricsToken)
            var settings = ServerConfiguration()
            (settings.host, settings.port, settings.maxConnections, settings.ioQueueCount) = (listener.host, listener.port, 64, 1)
            metricsServer = Server(configuration: settings, responder: metricsRoutes.build(logger: Logger(label: "parley.metrics")),
                                   logger: Logger(label: "parley.metrics"))
        } else if let token = config.metricsToken {
            SystemRoutes.registerMetrics(on: &routes, registry: registry, token: token)
        }
        APIRoutes.register(on: &routes, APIServices(auth: services.auth, chat: services.chat, turns: services.turns, provider: services.provider,
                                                    limits: services.limits,
                                                    cookie: RefreshCookie(alwaysSecure: config.cookieSecure,
                                                                          clients: ClientAddress(trusted: config.rateLimits.trustedProxies),
                                                                          lifetime: services.auth.refreshTokenLifetime),
                                                    search: SQLMessageRepository(database: services.database), reporting: services.reporting),
                           logger: apiLogger)
        WebUI.register(on: &routes)
        let router = routes.build(defaultBodyLimit: config.maxBodyBytes, logger: Logger(label: "parley.http"))
        var serverSettings = config.server
        // Every connection is a descriptor: take all the system allows, and keep the connection
        // cap below it with room for the database, Redis, upstream transfers and files.
        let descriptors = DescriptorLimit.raiseToHardLimit()
        let reserve = min(512, max(32, descriptors / 8))
        if serverSettings.maxConnections > descriptors - reserve {
            serverSettings.maxConnections = max(1, descriptors - reserve)
            logger.warning("HTTP_MAX_CONNECTIONS lowered to fit the open-file limit", metadata: [
                "parley.configured": "\(config.server.maxConnections)", "parley.limit": "\(serverSettings.maxConnections)",
                "parley.nofile": "\(descriptors)",
            ])
        }
        let server = Server(configuration: serverSettings, responder: router, logger: Logger(label: "parley.http"))
        services.metrics.watch(server: server, turns: services.turns.registry, database: services.database)
        do {
            try await ServerLifecycle.run(server, alongside: [metricsServer].compactMap { $0 }, turns: services.turns.registry, draining: draining,
                                          grace: config.shutdownGrace, logger: logger, termination: termination)
        } catch {
            await stop([housekeeping, memoryReturn, sweep, searchIndexing])
            await services.closeConnections()
            throw ExitCode(1)
        }
        await stop([housekeeping, memoryReturn, sweep, searchIndexing])
        await services.closeConnections()
    }

    /// Cancels the background tasks and waits for them, so none is in the middle of a query
    /// when the databases close; but for `limit` at most: a query stuck on a database that
    /// stopped answering must not keep the process from exiting.
    private func stop(_ tasks: [Task<Void, Never>?], waitingAtMost limit: Duration = .seconds(5)) async {
        for task in tasks { task?.cancel() }
        // Whichever ends first finishes the stream (finishing it twice is harmless).
        let (ended, end) = AsyncStream<Never>.makeStream()
        Task {
            for task in tasks { await task?.value }
            end.finish()
        }
        Task {
            try? await Task.sleep(for: limit)
            end.finish()
        }
        for await _ in ended {}
    }
}


extension AppConfiguration {
    /// Reads the configuration; a bad value ends the process with status 78 (EX_CONFIG)
    /// and a message naming the variable.
    static func loadOrExit() throws -> AppConfiguration {
        do {
            return try AppConfiguration(environment: Environment.load())
        } catch {
            StandardError.write("parley: \(error)")
            throw ExitCode(78)
        }
    }
}
