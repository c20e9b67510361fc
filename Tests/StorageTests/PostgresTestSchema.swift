import Storage

/// Placeholder until the PostgreSQL driver exists: the Postgres backend reports itself unconfigured.
enum PostgresTestSchema {
    static func fresh(url: String, migrations: String) async throws -> (any SQLDatabase)? { nil }
}
