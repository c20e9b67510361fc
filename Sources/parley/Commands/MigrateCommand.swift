import ArgumentParser
import Logging
import Storage

/// `parley migrate`: applies pending migrations to `DATABASE_URL` and says which.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (DATABASE_URL, MIGRATIONS_DIR)."
    )

    func run() async throws {
        let config = try AppConfiguration.loadOrExit()
        LogSetup.bootstrap(format: config.logFormat, level: config.logLevel, secrets: config.secrets)
        let logger = Logger(label: "parley.migrate")
        do {
            let database = try await AppServices.openDatabase(config.storage, logger: logger)
            let applied = try await Migrator(database: database, directory: config.storage.migrationsDirectory).migrate()
            await database.close()
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
        } catch {
            StandardError.write("parley migrate: \(error)")
            throw ExitCode(1)
        }
    }
}
