import ChatCore
import FoundationEssentials

struct SearchHitDTO: Encodable {
    let messageId: String
    let sessionId: String
    let sessionTitle: String
    let role: String
    let snippet: String
    let createdAt: Date

    init(_ hit: SearchHit) {
        messageId = hit.messageID.description
        sessionId = hit.sessionID.description
        sessionTitle = hit.sessionTitle
        role = hit.role.rawValue
        snippet = hit.snippet
        createdAt = hit.createdAt
    }
}

/// Answers and tokens, with their cost in US dollars where the models have prices.
struct UsageTotalsDTO: Encodable {
    let answers: Int
    let promptTokens: Int
    let completionTokens: Int
    /// Rounded to a millionth of a dollar; null when no model involved has a price.
    @Nullable var cost: Double?

    /// The sum of several models' usage.
    init(_ usages: [ModelUsage], _ reporting: UsageReporting) {
        let totals = usages.reduce(UsageTotals()) { $0 + $1.totals }
        answers = totals.answers
        promptTokens = totals.promptTokens
        completionTokens = totals.completionTokens
        cost = reporting.cost(usages).map { ($0 * 1_000_000).rounded() / 1_000_000 }
    }
}

/// A model's usage: `model` beside the members of its totals (`null` cost: no price).
struct ModelUsageDTO: Encodable {
    let model: String
    let totals: UsageTotalsDTO

    init(_ usage: ModelUsage, _ reporting: UsageReporting) {
        model = usage.model
        totals = UsageTotalsDTO([usage], reporting)
    }

    private enum CodingKeys: String, CodingKey { case model }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try totals.encode(to: encoder)
    }
}

struct UsageHistoryDTO: Encodable {
    struct Day: Encodable {
        let date: String
        let total: UsageTotalsDTO
        let models: [ModelUsageDTO]
    }
    let from: String
    let to: String
    let currency = "USD"
    let days: [Day]
    let total: UsageTotalsDTO

    init(_ days: [UsageHistory.Day], _ reporting: UsageReporting) {
        from = days.first?.day ?? ""
        to = days.last?.day ?? ""
        self.days = days.map { day in
            Day(date: day.day, total: UsageTotalsDTO(day.models, reporting), models: day.models.map { ModelUsageDTO($0, reporting) })
        }
        total = UsageTotalsDTO(days.flatMap(\.models), reporting)
    }
}

struct AdminUsageDTO: Encodable {
    /// A user's usage of a model: `user_id` and `email` (null for a guest) beside the model's usage.
    struct UserRow: Encodable {
        let userId: String
        let email: String?
        let usage: ModelUsageDTO

        private enum CodingKeys: String, CodingKey { case userId, email }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(userId, forKey: .userId)
            try container.encode(email, forKey: .email)
            try usage.encode(to: encoder)
        }
    }
    let from: String
    let to: String
    let currency = "USD"
    let items: [UserRow]
    @Nullable var nextCursor: String?
    let models: [ModelUsageDTO]
    let total: UsageTotalsDTO

    init(_ report: AdminUsage.Report, _ reporting: UsageReporting) {
        from = report.from
        to = report.to
        items = report.users.items.map { UserRow(userId: $0.userID.description, email: $0.email, usage: ModelUsageDTO($0.usage, reporting)) }
        nextCursor = report.users.nextCursor
        models = report.models.map { ModelUsageDTO($0, reporting) }
        total = UsageTotalsDTO(report.models, reporting)
    }
}
