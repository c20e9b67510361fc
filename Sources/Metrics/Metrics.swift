import Synchronization

/// Label values of one series, in the order of the family's label names.
public typealias Labels = [String]

/// A monotonically increasing count per label set.
public final class Counter: Sendable {
    let name: String, help: String, labelNames: [String]
    private let values = Mutex<[Labels: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    public func increment(_ labels: Labels = [], by amount: Double = 1) {
        values.withLock { $0[labels, default: 0] += amount }
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (labels, value) in values.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(format(labelNames, labels)) \(number(value))\n"
        }
    }
}

/// Observations counted into cumulative buckets per label set (seconds, by convention).
public final class Histogram: Sendable {
    let name: String, help: String, labelNames: [String], buckets: [Double]
    private struct Series {
        var counts: [Int]
        var sum = 0.0
        var count = 0
    }
    private let series = Mutex<[Labels: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets.sorted()
    }

    public func observe(_ value: Double, _ labels: Labels = []) {
        let index = buckets.firstIndex { value <= $0 } ?? buckets.count
        series.withLock { all in
            var s = all[labels] ?? Series(counts: Array(repeating: 0, count: buckets.count + 1))
            s.counts[index] += 1
            s.sum += value
            s.count += 1
            all[labels] = s
        }
    }

    public func observe(_ duration: Duration, _ labels: Labels = []) {
        observe(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18, labels)
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, s) in series.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            var cumulative = 0
            for (i, bound) in buckets.enumerated() {
                cumulative += s.counts[i]
                out += "\(name)_bucket\(format(labelNames + ["le"], labels + [number(bound)])) \(cumulative)\n"
            }
            out += "\(name)_bucket\(format(labelNames + ["le"], labels + ["+Inf"])) \(s.count)\n"
            out += "\(name)_sum\(format(labelNames, labels)) \(number(s.sum))\n"
            out += "\(name)_count\(format(labelNames, labels)) \(s.count)\n"
        }
    }
}

/// A value read when the metrics are scraped (open connections, pool use).
final class Gauge: Sendable {
    let name: String, help: String, labelNames: [String]
    let read: @Sendable () -> [(Labels, Double)]

    init(name: String, help: String, labelNames: [String], read: @escaping @Sendable () -> [(Labels, Double)]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.read = read
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, value) in read() { out += "\(name)\(format(labelNames, labels)) \(number(value))\n" }
    }
}

/// The metrics of one process, written in the Prometheus text exposition format (0.0.4).
public final class MetricsRegistry: Sendable {
    private enum Family: Sendable {
        case counter(Counter), histogram(Histogram), gauge(Gauge)
    }
    private let families = Mutex<[(String, Family)]>([])

    public init() {}

    /// Latency buckets from 1 ms to 30 s.
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    public func counter(_ name: String, _ help: String, labels: [String] = []) -> Counter {
        let counter = Counter(name: name, help: help, labelNames: labels)
        families.withLock { $0.append((name, .counter(counter))) }
        return counter
    }

    public func histogram(_ name: String, _ help: String, labels: [String] = [], buckets: [Double] = latencyBuckets) -> Histogram {
        let histogram = Histogram(name: name, help: help, labelNames: labels, buckets: buckets)
        families.withLock { $0.append((name, .histogram(histogram))) }
        return histogram
    }

    public func gauge(_ name: String, _ help: String, labels: [String] = [], read: @escaping @Sendable () -> [(Labels, Double)]) {
        families.withLock { $0.append((name, .gauge(Gauge(name: name, help: help, labelNames: labels, read: read)))) }
    }

    public func gauge(_ name: String, _ help: String, read: @escaping @Sendable () -> Double) {
        gauge(name, help, labels: []) { [([], read())] }
    }

    public func render() -> String {
        var out = ""
        for (_, family) in families.withLock({ $0 }) {
            switch family {
            case .counter(let c): c.render(into: &out)
            case .histogram(let h): h.render(into: &out)
            case .gauge(let g): g.render(into: &out)
            }
        }
        return out
    }
}

/// `{a="x",b="y"}` with values escaped as the format asks (backslash, quote, newline).
private func format(_ names: [String], _ values: Labels) -> String {
    guard !names.isEmpty else { return "" }
    let pairs = zip(names, values).map { name, value in
        var escaped = ""
        for ch in value {
            switch ch {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(ch)
            }
        }
        return "\(name)=\"\(escaped)\""
    }
    return "{" + pairs.joined(separator: ",") + "}"
}

private func number(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String(value)
}
