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

    init(_ totals: UsageTotals, cost: Double?) {
        answers = totals.answers
        promptTokens = totals.promptTokens
        completionTokens = totals.completionTokens
        self.cost = cost.map { ($0 * 1_000_000).rounded() / 1_000_000 }
    }

    /// The sum of several models' usage.
    init(_ items: [(model: String, totals: UsageTotals)], _ reporting: UsageReporting) {
        self.init(items.reduce(UsageTotals()) { $0 + $1.totals }, cost: reporting.cost(of: items))
    }
}

struct ModelUsageDTO: Encodable {
    let model: String
    let answers: Int
    let promptTokens: Int
    let completionTokens: Int
    @Nullable var cost: Double?

    init(model: String, _ totals: UsageTotals, _ reporting: UsageReporting) {
        let dto = UsageTotalsDTO(totals, cost: reporting.cost(model, totals))
        self.model = model
        answers = dto.answers
        promptTokens = dto.promptTokens
        completionTokens = dto.completionTokens
        cost = dto.cost
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
            Day(date: day.day, total: UsageTotalsDTO(day.models.map { ($0.model, $0.totals) }, reporting),
                models: day.models.map { ModelUsageDTO(model: $0.model, $0.totals, reporting) })
        }
        total = UsageTotalsDTO(days.flatMap(\.models).map { ($0.model, $0.totals) }, reporting)
    }
}

struct AdminUsageDTO: Encodable {
    struct UserRow: Encodable {
        let userId: String
        /// null for a guest.
        @Nullable var email: String?
        let model: String
        let answers: Int
        let promptTokens: Int
        let completionTokens: Int
        @Nullable var cost: Double?
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
        items = report.users.items.map { row in
            let totals = UsageTotalsDTO(row.totals, cost: reporting.cost(row.model, row.totals))
            return UserRow(userId: row.userID.description, email: row.email, model: row.model, answers: totals.answers,
                           promptTokens: totals.promptTokens, completionTokens: totals.completionTokens, cost: totals.cost)
        }
        nextCursor = report.users.nextCursor
        models = report.models.map { ModelUsageDTO(model: $0.model, $0.totals, reporting) }
        total = UsageTotalsDTO(report.models.map { ($0.model, $0.totals) }, reporting)
    }
}
