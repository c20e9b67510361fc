import FoundationEssentials

/// The process environment merged over a `.env` file: real variables win, so a container's
/// settings are never overridden by a file left in the image.
struct Environment: Sendable {
    private let values: [String: String]

    init(values: [String: String]) {
        self.values = values
    }

    /// Reads `ProcessInfo`'s environment and, if present, `.env` in the working directory.
    static func load(dotEnvPath: String = ".env") throws(ConfigurationError) -> Environment {
        var merged: [String: String] = [:]
        if let contents = try? String(contentsOfFile: dotEnvPath, encoding: .utf8) {
            merged = try parseDotEnv(contents)
        }
        for (key, value) in ProcessInfo.processInfo.environment { merged[key] = value }
        return Environment(values: merged)
    }

    /// Parses `KEY=value` lines; `#` starts a comment line; values may be single- or double-quoted.
    static func parseDotEnv(_ text: String) throws(ConfigurationError) -> [String: String] {
        var result: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingOWSAndCR()
            if line.hasPrefix("export ") { line = line.dropFirst(7).trimmingOWSAndCR() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(variable: ".env", message: "line \(number + 1) is not KEY=value")
            }
            let key = String(line[..<equals].trimmingOWSAndCR())
            var value = String(line[line.index(after: equals)...].trimmingOWSAndCR())
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            result[key] = value
        }
        return result
    }

    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    func string(_ name: String, default fallback: String) -> String {
        self[name] ?? fallback
    }

    func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = self[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(variable: name, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    func seconds(_ name: String, default fallback: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Duration {
        guard let text = self[name] else { return .milliseconds(Int64(fallback * 1000)) }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw ConfigurationError(variable: name, message: "must be a number of seconds from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"")
        }
        return .milliseconds(Int64(value * 1000))
    }

    func choice(_ name: String, default fallback: String, from allowed: [String]) throws(ConfigurationError) -> String {
        guard let text = self[name] else { return fallback }
        let lowered = text.lowercased()
        guard allowed.contains(lowered) else {
            throw ConfigurationError(variable: name, message: "must be one of \(allowed.joined(separator: ", ")), got \"\(text)\"")
        }
        return lowered
    }
}

extension StringProtocol {
    fileprivate func trimmingOWSAndCR() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }
}

/// A configuration value that cannot be used, naming the variable so the operator can fix it.
struct ConfigurationError: Error, CustomStringConvertible {
    let variable: String
    let message: String

    var description: String { "invalid configuration: \(variable) \(message)" }
}
