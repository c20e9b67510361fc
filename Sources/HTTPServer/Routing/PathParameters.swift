/// Values bound by a route's `{name}` segments, percent-decoded.
public struct PathParameters: Sendable, Hashable {
    private var values: [String: String] = [:]

    public init() {}

    public subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }
}
