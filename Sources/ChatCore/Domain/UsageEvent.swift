public import FoundationEssentials

/// What one turn cost, recorded for every turn (quotas and reporting).
public struct UsageEvent: Sendable, Equatable {
    public typealias ID = Identifier<UsageEvent>

    public let id: ID
    public let userID: User.ID
    public let sessionID: ChatSession.ID?
    public let model: String
    public let usage: TokenUsage
    public let latencyMilliseconds: Int
    public let at: Date

    public init(id: ID, userID: User.ID, sessionID: ChatSession.ID?, model: String, usage: TokenUsage, latencyMilliseconds: Int, at: Date) {
        self.id = id
        self.userID = userID
        self.sessionID = sessionID
        self.model = model
        self.usage = usage
        self.latencyMilliseconds = latencyMilliseconds
        self.at = at
    }
}

/// Usage added up: how many answers, and their tokens.
public struct UsageTotals: Sendable, Equatable {
    public var answers: Int
    public var promptTokens: Int
    public var completionTokens: Int

    public init(answers: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0) {
        self.answers = answers
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public static func + (a: UsageTotals, b: UsageTotals) -> UsageTotals {
        UsageTotals(answers: a.answers + b.answers, promptTokens: a.promptTokens + b.promptTokens,
                    completionTokens: a.completionTokens + b.completionTokens)
    }
}

/// One model's usage over a period.
public struct ModelUsage: Sendable, Equatable {
    public let model: String
    public let totals: UsageTotals

    public init(model: String, totals: UsageTotals) {
        self.model = model
        self.totals = totals
    }
}

/// One model's usage on one UTC day (`day` as `2026-12-07`).
public struct DailyUsage: Sendable, Equatable {
    public let day: String
    public let usage: ModelUsage

    public init(day: String, usage: ModelUsage) {
        self.day = day
        self.usage = usage
    }
}

/// One user's usage of one model over a period; `email` is nil for a guest.
public struct UserUsage: Sendable, Equatable {
    public let userID: User.ID
    public let email: String?
    public let usage: ModelUsage

    public init(userID: User.ID, email: String?, usage: ModelUsage) {
        self.userID = userID
        self.email = email
        self.usage = usage
    }
}

/// What a model costs, in US dollars per million tokens, as the operator states it.
public struct ModelPrice: Sendable, Equatable {
    public let inputPerMillion: Double
    public let outputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    public func cost(of totals: UsageTotals) -> Double {
        (Double(totals.promptTokens) * inputPerMillion + Double(totals.completionTokens) * outputPerMillion) / 1_000_000
    }
}
