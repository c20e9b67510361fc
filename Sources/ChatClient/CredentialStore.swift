import FoundationEssentials
import Glibc

/// The tokens of a signed-in user, kept in `~/.config/parley/credentials` (or under
/// `XDG_CONFIG_HOME`) with mode 0600, per server URL.
public struct Credentials: Codable, Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String
    public var email: String?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token", refreshToken = "refresh_token", email
    }

    public init(accessToken: String, refreshToken: String, email: String?) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.email = email
    }
}

public struct CredentialStore: Sendable {
    public let path: String

    public init(path: String? = nil) {
        if let path {
            self.path = path
        } else {
            let environment = ProcessInfo.processInfo.environment
            let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? ".") + "/.config")
            self.path = base + "/parley/credentials"
        }
    }

    public func load(for url: String) -> Credentials? {
        guard let data = FileManager.default.contents(atPath: path),
              let all = try? JSONDecoder().decode([String: Credentials].self, from: data) else { return nil }
        return all[url]
    }

    /// Saves (or, with nil, forgets) the credentials for `url`; the file is created 0600 and
    /// replaced atomically, so a reader never sees half of it.
    public func save(_ credentials: Credentials?, for url: String) throws {
        var all = (FileManager.default.contents(atPath: path)).flatMap { try? JSONDecoder().decode([String: Credentials].self, from: $0) } ?? [:]
        all[url] = credentials
        let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(all)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, 0o600)
        close(fd)
        guard written == data.count, rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}
