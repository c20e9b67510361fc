#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import Logging

/// Writes one JSON object per line to standard output: time, level, logger, message and metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "{\"time\":\(jsonQuoted(LogClock.timestamp())),\"level\":\"\(event.level.rawValue)\","
        line += "\"logger\":\(jsonQuoted(label)),\"message\":\(jsonQuoted("\(event.message)"))"
        for (key, value) in mergedMetadata(metadata, provider: metadataProvider, event: event.metadata) {
            line += ",\(jsonQuoted(key)):\(jsonQuoted("\(value)"))"
        }
        StandardOutput.write(line + "}\n")
    }
}

/// Human-readable lines: `time level logger: message key=value …`.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "\(LogClock.timestamp()) \(event.level.rawValue.uppercased()) \(label): \(event.message)"
        for (key, value) in mergedMetadata(metadata, provider: metadataProvider, event: event.metadata) {
            line += " \(key)=\(value)"
        }
        StandardOutput.write(line + "\n")
    }
}

/// Handler, provider and event metadata merged (later wins), sorted by key for stable lines.
private func mergedMetadata(
    _ handler: Logger.Metadata, provider: Logger.MetadataProvider?, event: Logger.Metadata?
) -> [(String, Logger.MetadataValue)] {
    var merged = handler
    if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
    if let event { merged.merge(event) { _, new in new } }
    return merged.sorted { $0.key < $1.key }
}

enum StandardOutput {
    /// One `write` per line keeps lines from different threads whole.
    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let n = Glibc.write(1, base + offset, bytes.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

enum LogClock {
    /// RFC 3339 UTC time with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int, _ width: Int = 2) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1))-\(pad(Int(parts.tm_mday)))T"
            + "\(pad(Int(parts.tm_hour))):\(pad(Int(parts.tm_min))):\(pad(Int(parts.tm_sec))).\(pad(spec.tv_nsec / 1_000_000, 3))Z"
    }
}
