/// How many of each thing one owner may keep, so that nobody can grow the database without
/// bound (300 forks in two seconds once added 24 MB). Past a cap a creation is refused with
/// `DomainError.countLimit` naming it.
public struct OwnershipLimits: Sendable, Equatable {
    /// Chat sessions per account, forks included (`USER_MAX_SESSIONS`).
    public var sessionsPerUser = 10_000
    /// Projects per account (`USER_MAX_PROJECTS`).
    public var projectsPerUser = 100
    /// API keys per account that are neither revoked nor expired (`USER_MAX_API_KEYS`).
    public var apiKeysPerUser = 20
    /// System prompts per project, and their characters together: they go upstream with every
    /// message of the project's sessions.
    public var promptsPerProject = 20
    public var promptCharactersPerProject = 32_000

    public init() {}

    func check(_ count: Int, below limit: Int, tier: String, what: String, per: String = "account") throws(DomainError) {
        if count >= limit { throw .countLimit(CountLimit(tier: tier, what: what, per: per, limit: limit)) }
    }
}
