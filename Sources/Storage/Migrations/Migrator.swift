public import FoundationEssentials

/// Applies `migrations/<dialect>/NNNN_name.sql` in order, each in its own transaction,
/// recording version, name and checksum in `schema_migrations`. The files are compiled into
/// the binary (`EmbeddedMigrations`), so it runs from any folder; a directory given instead
/// (`MIGRATIONS_DIR`) is read at run time.
///
/// A file changed after it was applied is an error (the database would no longer match the
/// files). On PostgreSQL a session advisory lock makes instances that start together take
/// turns; on SQLite the write lock of each transaction does the same.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public var checksum: String { Migrator.checksum(sql) }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case unreadableDirectory(String)
        case badFileName(String)
        case duplicateVersion(Int)
        case changedAfterApplied(String)

        public var description: String {
            switch self {
            case .unreadableDirectory(let path): "cannot read migrations in \(path)"
            case .badFileName(let name): "migration file \(name) is not named NNNN_name.sql"
            case .duplicateVersion(let version): "two migration files have version \(version)"
            case .changedAfterApplied(let name): "migration \(name) was changed after it was applied"
            }
        }
    }

    let database: any SQLDatabase
    let directory: String?

    /// `directory` holds one folder per dialect (`sqlite/`, `postgres/`); nil: the migrations
    /// compiled into the binary.
    public init(database: any SQLDatabase, directory: String? = nil) {
        self.database = database
        self.directory = directory
    }

    /// The migrations of this database's dialect, in version order.
    public func migrations() throws -> [Migration] {
        try Self.migrations(dialect: database.dialect, directory: directory)
    }

    /// The migrations of `dialect`, from `directory` or (nil) the binary, in version order.
    public static func migrations(dialect: SQLDialect, directory: String?) throws -> [Migration] {
        var files: [(name: String, sql: String)] = []
        if let directory {
            let folder = directory + "/" + dialect.rawValue
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
                throw Failure.unreadableDirectory(folder)
            }
            for name in names.sorted() where name.hasSuffix(".sql") {
                guard let sql = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8) else {
                    throw Failure.unreadableDirectory(folder + "/" + name)
                }
                files.append((name, sql))
            }
        } else {
            files = EmbeddedMigrations.files[dialect.rawValue] ?? []
        }
        var result: [Migration] = []
        for (name, sql) in files {
            guard let underscore = name.firstIndex(of: "_"), let version = Int(name[..<underscore]) else {
                throw Failure.badFileName(name)
            }
            if result.contains(where: { $0.version == version }) { throw Failure.duplicateVersion(version) }
            result.append(Migration(version: version, name: name, sql: sql))
        }
        return result.sorted { $0.version < $1.version }
    }

    /// Applies every pending migration; returns the names of those it applied.
    @discardableResult
    public func migrate(now: Date = Date()) async throws -> [String] {
        let files = try migrations()
        let dialect = database.dialect
        return try await database.withConnection { connection in
            if dialect == .postgres {
                // The key is arbitrary but fixed: every parley instance uses the same one.
                _ = try await connection.query("SELECT pg_advisory_lock(727161) AS locked", [])
            }
            do {
                let applied = try await Migrator.ensureTable(connection, dialect: dialect)
                var done: [String] = []
                for file in files {
                    if let checksum = applied[file.version] {
                        guard checksum == file.checksum else { throw Failure.changedAfterApplied(file.name) }
                        continue
                    }
                    try await connection.executeScript(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")
                    do {
                        try await connection.executeScript(file.sql)
                        _ = try await connection.execute(
                            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                            [.integer(file.version), .text(file.name), .text(file.checksum), .date(now)]
                        )
                        try await connection.executeScript("COMMIT")
                    } catch {
                        try? await connection.executeScript("ROLLBACK")
                        throw error
                    }
                    done.append(file.name)
                }
                if dialect == .postgres { _ = try await connection.query("SELECT pg_advisory_unlock(727161) AS unlocked", []) }
                return done
            } catch {
                if dialect == .postgres { _ = try? await connection.query("SELECT pg_advisory_unlock(727161) AS unlocked", []) }
                throw error
            }
        }
    }

    private static func ensureTable(_ connection: any SQLConnection, dialect: SQLDialect) async throws -> [Int: String] {
        let timestamp = dialect == .postgres ? "TIMESTAMPTZ" : "TEXT"
        try await connection.executeScript("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at \(timestamp) NOT NULL
            )
            """)
        var applied: [Int: String] = [:]
        for row in try await connection.query("SELECT version, checksum FROM schema_migrations", []) {
            applied[try row.int("version")] = try row.string("checksum")
        }
        return applied
    }

    /// FNV-1a (64 bit) of the file's bytes: a change detector, not a security measure.
    static func checksum(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
