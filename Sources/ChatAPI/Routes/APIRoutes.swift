public import ChatCore
public import HTTPServer
public import Logging

/// What parley's API routes are built from: the use cases' dependencies and the limits routes
/// declare.
public struct APIServices: Sendable {
    public let auth: AuthDependencies
    public let chat: ChatDependencies
    public let turns: TurnDependencies
    public let provider: any ChatProvider
    public let limits: RouteLimits
    public let cookie: RefreshCookie
    public let search: any MessageSearch
    public let reporting: UsageReporting

    public init(auth: AuthDependencies, chat: ChatDependencies, turns: TurnDependencies, provider: any ChatProvider, limits: RouteLimits,
                cookie: RefreshCookie, search: any MessageSearch, reporting: UsageReporting) {
        self.auth = auth
        self.chat = chat
        self.turns = turns
        self.provider = provider
        self.limits = limits
        self.cookie = cookie
        self.search = search
        self.reporting = reporting
    }
}

/// Every `/v1` route, and the OpenAI API under `/openai/v1`, registered in one place: `parley serve` and the API tests build the same
/// table.
public enum APIRoutes {
    public static func register(on router: inout RouterBuilder, _ api: APIServices, logger: Logger) {
        AccountRoutes.register(on: &router, deps: api.auth, limits: api.limits, cookie: api.cookie, logger: logger)
        ModelRoutes.register(on: &router, provider: api.provider, deps: api.auth, logger: logger)
        SessionRoutes.register(on: &router, chat: api.chat, auth: api.auth, limits: api.limits, logger: logger)
        ProjectRoutes.register(on: &router, chat: api.chat, auth: api.auth, limits: api.limits, logger: logger)
        TurnRoutes.register(on: &router, turns: api.turns, auth: api.auth, limits: api.limits, logger: logger)
        ReportRoutes.register(on: &router, search: api.search, reporting: api.reporting, auth: api.auth, logger: logger)
        OpenAIRoutes.register(on: &router, turns: api.turns, provider: api.provider, auth: api.auth, limits: api.limits, logger: logger)
    }
}
