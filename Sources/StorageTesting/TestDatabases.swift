import Foundation
public import Storage
public import Testing

/// Where the repository's migrations live, found from this file's path.
public let migrationsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("migrations").path

/// The databases every contract test runs against.
public enum TestBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    public var testDescription: String { rawValue }

    /// The backends to run here: PostgreSQL when `make test` started one (always in CI, where
    /// a missing one fails). Left out otherwise, and `postgresIsReachable` says so as a skip.
    public static var available: [TestBackend] { postgresConfigured ? allCases : [.sqlite] }

    /// Whether the PostgreSQL cases run: configured, or in CI (where a missing one is a failure).
    public static var postgresConfigured: Bool {
        ProcessInfo.processInfo.environment["PARLEY_TEST_POSTGRES_URL"] != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// A fresh, migrated database for one test, or nil when this backend is not configured
    /// here (outside CI only: in CI a missing Postgres fails the run).
    /// `migrations` (a folder with one sub-folder per dialect) gives the schema a test starts
    /// from; the repository's by default.
    public func makeDatabase(migrations: String = migrationsDirectory) async throws -> (any SQLDatabase)? {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString).db").path
            let database = try SQLiteDatabase(path: path)
            try await Migrator(database: database, directory: migrations).migrate()
            return database
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["PARLEY_TEST_POSTGRES_URL"] else {
                if ProcessInfo.processInfo.environment["CI"] != nil {
                    Issue.record("PARLEY_TEST_POSTGRES_URL is not set; `make test` starts a PostgreSQL for these tests")
                }
                return nil
            }
            return try await PostgresTestSchema.fresh(url: url, migrations: migrations)
        }
    }
}
