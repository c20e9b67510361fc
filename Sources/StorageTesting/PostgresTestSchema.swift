import Foundation
public import Storage

/// A fresh schema in the test PostgreSQL for each test, so tests never see each other's rows.
public enum PostgresTestSchema {
    public static func fresh(url: String, migrations: String) async throws -> (any SQLDatabase)? {
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try await PostgresDatabase(url: url, poolSize: 1)
        try await admin.executeScript("CREATE SCHEMA \(schema)")
        await admin.close()
        let separator = url.contains("?") ? "&" : "?"
        let database = try await PostgresDatabase(url: url + separator + "options=-c%20search_path%3D\(schema)", poolSize: 4)
        try await Migrator(database: database, directory: migrations).migrate()
        return database
    }
}
