#if canImport(Glibc)
import Glibc
#endif
import HTTPServer
import Logging
import JSONText

/// Writes one line per log event to standard output, as a JSON object (time, level, logger,
/// message, metadata) for machines, or as `time LEVEL logger: message key=value …` for people.
struct LineLogHandler: LogHandler {
    let label: String
    let format: AppConfiguration.LogFormat
    let redactor: Redactor
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: AppConfiguration.LogFormat, redactor: Redactor) {
        self.label = label
        self.format = format
        self.redactor = redactor
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        // Every value passes the redactor; a key that names a secret loses its value whole.
        let fields = merged.sorted { $0.key < $1.key }.map { key, value in
            (key, Redactor.isSecretKey(key) && !key.hasPrefix("parley.request") ? "[redacted]" : redactor.redact("\(value)"))
        }
        let message = redactor.redact("\(event.message)")
        var line: String
        switch format {
        case .json:
            line = "{\"time\":\(jsonQuoted(LogClock.timestamp())),\"level\":\"\(event.level.rawValue)\","
            line += "\"logger\":\(jsonQuoted(label)),\"message\":\(jsonQuoted(message))"
            for (key, value) in fields { line += ",\(jsonQuoted(key)):\(jsonQuoted(value))" }
            line += "}\n"
        case .text:
            line = "\(LogClock.timestamp()) \(event.level.rawValue.uppercased()) \(label): \(message)"
            for (key, value) in fields { line += " \(key)=\(value)" }
            line += "\n"
        }
        StandardOutput.write(line)
    }
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
