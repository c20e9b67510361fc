public import Logging

/// What sending, following and stopping turns need, built once by the composition root.
public struct TurnDependencies: Sendable {
    public let chat: ChatDependencies
    public let store: any TurnRepository
    public let usage: any UsageRepository
    public let provider: any ChatProvider
    public var registry: TurnRegistry { chat.turns }
    public let settings: ChatSettings
    public let limiter: any RateLimiter
    public let policy: RatePolicy
    /// Reaches other instances (stop); nil when this instance is alone.
    public let signals: (any TurnSignals)?
    /// Answers kept for identical requests, and for how long; nil when off.
    public let cache: (cache: any ResponseCache, ttl: Duration, digest: @Sendable (String) -> String)?
    public let observer: (any TurnObserver)?
    public let logger: Logger
    /// This instance's name on the answers it generates (`INSTANCE_ID`).
    public var instanceID = "local"

    public init(chat: ChatDependencies, store: any TurnRepository, usage: any UsageRepository, provider: any ChatProvider,
                settings: ChatSettings, limiter: any RateLimiter, policy: RatePolicy,
                signals: (any TurnSignals)? = nil,
                cache: (cache: any ResponseCache, ttl: Duration, digest: @Sendable (String) -> String)? = nil,
                observer: (any TurnObserver)? = nil, logger: Logger) {
        self.chat = chat
        self.store = store
        self.usage = usage
        self.provider = provider
        self.settings = settings
        self.limiter = limiter
        self.policy = policy
        self.signals = signals
        self.cache = cache
        self.observer = observer
        self.logger = logger
    }
}
