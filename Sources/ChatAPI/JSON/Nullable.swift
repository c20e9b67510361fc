/// An optional member that an answer always carries, as `null` when there is none: the
/// encoding Swift synthesises leaves a nil optional out, and clients (and `openapi.yaml`)
/// expect the key. `@Nullable var parentId: String?`.
@propertyWrapper
struct Nullable<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension Nullable: Sendable where Value: Sendable {}
