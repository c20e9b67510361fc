/// Where Redis is and how patient to be with it, from `redis://[[user]:password@]host[:port][/db]`.
public struct RedisConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 6379
    public var username: String?
    public var password: String?
    public var database = 0
    public var connectTimeout: Duration = .seconds(1)
    public var commandTimeout: Duration = .seconds(1)
    /// Connections, each with a queue of its own; commands are spread over them.
    public var poolSize = 4

    public init(url: String) throws(RedisError) {
        guard url.hasPrefix("redis://") else { throw RedisError(.badURL, "must start with redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let db = Int(path), (0...15).contains(db) else { throw RedisError(.badURL, "the database must be a number from 0 to 15") }
                database = db
            }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {  // [::1]:6379
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") { port = try Self.port(rest.dropFirst()) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = try Self.port(rest[rest.index(after: colon)...])
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else { throw RedisError(.badURL, "has no host") }
    }

    private static func port(_ text: Substring) throws(RedisError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw RedisError(.badURL, "the port must be a number from 1 to 65535") }
        return port
    }
}

/// A Redis reply.
public enum RedisValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case array([RedisValue])
    case null
    case status(String)

    public var int: Int? {
        switch self {
        case .integer(let n): n
        case .string(let s): Int(s)
        default: nil
        }
    }

    public var array: [RedisValue] {
        if case .array(let items) = self { return items }
        return []
    }
}

/// Why a command failed. `description` never holds the command's arguments.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case badURL
        /// Redis cannot be reached, or the connection broke or timed out.
        case unavailable
        /// Redis answered with an error.
        case server
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "redis \(kind): \(message)" }
}
