/// The messages sent upstream for a turn, and the token estimates used where the upstream
/// gives no counts.
public enum TurnContext {
    /// A rough count for text with no tokenizer at hand: about four bytes of UTF-8 per token,
    /// which is close for English with BPE tokenizers and errs high for most other text.
    public static func estimatedTokens(_ text: String) -> Int {
        (text.utf8.count + 3) / 4
    }

    /// Tokens of a whole request; each message also costs a few tokens of framing.
    public static func estimatedTokens(_ messages: [ContextMessage]) -> Int {
        messages.reduce(0) { $0 + estimatedTokens($1.content) + 4 }
    }

    /// The project's prompts as system messages, then the last `maxMessages` messages of the
    /// history that have content, dropping the oldest of those while the estimate of the whole
    /// request, prompts included, is over `maxTokens`. The newest message (the one just sent)
    /// always stays.
    /// `leading`: system prompts that come before the project's (the deployment's, the session's).
    public static func build(leading: [String] = [], prompts: [Prompt], history: [Message], maxMessages: Int, maxTokens: Int) -> [ContextMessage] {
        let system = leading.filter { !$0.isEmpty }.map { ContextMessage(role: .system, content: $0) }
            + prompts.sorted { $0.position < $1.position }.map { ContextMessage(role: .system, content: $0.text) }
        var recent = history.filter { !$0.content.isEmpty }.suffix(maxMessages).map { ContextMessage(role: $0.role, content: $0.content) }
        var tokens = estimatedTokens(system) + estimatedTokens(recent)
        while recent.count > 1, tokens > maxTokens {
            tokens -= estimatedTokens([recent.removeFirst()])
        }
        return system + recent
    }
}
