/// The limits and pacing of chat turns, from configuration.
public struct ChatSettings: Sendable {
    /// Longest message a user may send, in characters (`CHAT_MAX_MESSAGE_LENGTH`).
    public var maxMessageLength = 4000
    /// How many of the latest messages go upstream as context (`CHAT_MAX_CONTEXT_MESSAGES`).
    public var maxContextMessages = 20
    /// Estimated tokens the history may take; older messages are left out beyond it
    /// (`CHAT_MAX_CONTEXT_TOKENS`).
    public var maxContextTokens = 16_000
    /// The most tokens an answer may be asked for (`CHAT_MAX_OUTPUT_TOKENS`): a larger
    /// `max_tokens` is refused, and a send without one is capped at this upstream.
    public var maxOutputTokens = 4096
    /// The temperature a turn is sent with when its request names none (`CHAT_DEFAULT_TEMPERATURE`);
    /// nil leaves it to the upstream.
    public var defaultTemperature: Double?
    /// The deployment's system prompt, sent first in every context (`CHAT_SYSTEM_PROMPT`).
    public var systemPrompt: String?
    /// Longest time generated content stays only in memory before it is written.
    public var checkpointInterval: Duration = .seconds(2)
    /// Most bytes of generated content that stay only in memory before they are written.
    public var checkpointBytes = 512
    /// How long an idle stream waits before a keep-alive comment.
    public var keepAliveInterval: Duration = .seconds(15)
    /// How often a reader of a turn that runs in another process looks for new content.
    public var followPollInterval: Duration = .seconds(1)
    /// How long an `Idempotency-Key` keeps pointing at the turn it started.
    public var idempotencyWindow: Duration = .seconds(24 * 3600)

    public init() {}
}
