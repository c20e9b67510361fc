public import FoundationEssentials

/// What the usage reports need: the recorded usage events and the operator's prices.
public struct UsageReporting: Sendable {
    public let usage: any UsageRepository
    /// Prices by model id; a model without one has no cost in the reports.
    public let prices: [String: ModelPrice]
    public let clock: any WallClock

    public init(usage: any UsageRepository, prices: [String: ModelPrice], clock: any WallClock = SystemClock()) {
        self.usage = usage
        self.prices = prices
        self.clock = clock
    }

    /// The cost of a model's usage, nil when the model has no price.
    public func cost(_ usage: ModelUsage) -> Double? {
        prices[usage.model]?.cost(of: usage.totals)
    }

    /// The cost of several models' usage: the sum over those with a price, nil when none has one.
    public func cost(_ usages: [ModelUsage]) -> Double? {
        let costs = usages.compactMap(cost)
        return costs.isEmpty ? nil : costs.reduce(0, +)
    }
}

/// A UTC day as `2026-12-07`, and the days around it.
public enum UTCDay {
    static let seconds: TimeInterval = 86_400

    public static func name(of date: Date) -> String { String(Timestamp.format(date).prefix(10)) }

    /// The start of the day `date` falls in.
    public static func start(of date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / seconds).rounded(.down) * seconds)
    }

    /// The start of the day named `text`, nil unless it is a real day written `YYYY-MM-DD`.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count == 10, let date = Timestamp.parse(text + "T00:00:00Z"), name(of: date) == text else { return nil }
        return date
    }

    public static func adding(_ days: Int, to date: Date) -> Date { date.addingTimeInterval(Double(days) * seconds) }
}

/// The caller's usage per UTC day over the last `days` days (today included), every day
/// listed, each with its models.
public struct UsageHistory: Sendable {
    public struct Day: Sendable, Equatable {
        public let day: String
        public let models: [ModelUsage]
    }

    let reporting: UsageReporting

    public init(_ reporting: UsageReporting) {
        self.reporting = reporting
    }

    public static let maxDays = 366

    public func callAsFunction(_ principal: Principal, days: Int) async throws -> [Day] {
        guard (1...Self.maxDays).contains(days) else {
            throw DomainError.validation([FieldError("days", "must be a whole number from 1 to \(Self.maxDays)")])
        }
        let today = UTCDay.start(of: reporting.clock.now())
        let from = UTCDay.adding(1 - days, to: today)
        let rows = try await reporting.usage.daily(userID: principal.user.id, from: from, until: UTCDay.adding(1, to: today))
        let byDay = Dictionary(grouping: rows, by: \.day)
        return (0..<days).map { offset in
            let day = UTCDay.name(of: UTCDay.adding(offset, to: from))
            return Day(day: day, models: byDay[day]?.map(\.usage) ?? [])
        }
    }
}

/// Admin: every user's usage per model between two UTC days (both included), the heaviest
/// first, with the period's total per model.
public struct AdminUsage: Sendable {
    public struct Report: Sendable {
        public let from: String
        public let to: String
        public let users: Page<UserUsage>
        public let models: [ModelUsage]
    }

    let reporting: UsageReporting

    public init(_ reporting: UsageReporting) {
        self.reporting = reporting
    }

    /// From and to default to the last 30 days; a period spans at most this many days.
    public static let maxDays = 366

    public func callAsFunction(_ principal: Principal, from fromText: String?, to toText: String?, limit: Int, cursor: String?) async throws -> Report {
        guard principal.user.role == .admin else { throw DomainError.forbidden("only admins can see everyone's usage") }
        var errors: [FieldError] = []
        func day(_ text: String?, _ field: String) -> Date? {
            guard let text else { return nil }
            guard let date = UTCDay.parse(text) else {
                errors.append(FieldError(field, "must be a day written YYYY-MM-DD"))
                return nil
            }
            return date
        }
        let givenTo = day(toText, "to"), givenFrom = day(fromText, "from")
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        let to = givenTo ?? UTCDay.start(of: reporting.clock.now())
        let from = givenFrom ?? UTCDay.adding(-29, to: to)
        guard from <= to else { throw DomainError.validation([FieldError("from", "must not be after to")]) }
        guard to.timeIntervalSince(from) < Double(Self.maxDays) * UTCDay.seconds else {
            throw DomainError.validation([FieldError("from", "must be at most \(Self.maxDays) days before to")])
        }
        let until = UTCDay.adding(1, to: to)
        async let users = reporting.usage.byUser(from: from, until: until, limit: limit, cursor: cursor)
        async let models = reporting.usage.byModel(from: from, until: until)
        return Report(from: UTCDay.name(of: from), to: UTCDay.name(of: to), users: try await users, models: try await models)
    }
}
