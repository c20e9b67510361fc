public import ChatCore

/// Several providers behind one: each model id is served by the provider that offers it.
public struct ProviderRouter: ChatProvider {
    private let byModel: [String: any ChatProvider]
    public let models: [ModelInfo]

    /// The first provider to list a model id serves it.
    public init(_ providers: [any ChatProvider]) {
        var byModel: [String: any ChatProvider] = [:]
        var models: [ModelInfo] = []
        for provider in providers {
            for model in provider.models where byModel[model.id] == nil {
                byModel[model.id] = provider
                models.append(model)
            }
        }
        self.byModel = byModel
        self.models = models
    }

    public func complete(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
        guard let provider = byModel[request.model] else {
            return AsyncThrowingStream { $0.finish(throwing: ProviderError(.rejected, "model \(request.model) is not offered by this server")) }
        }
        return provider.complete(request)
    }

    public func complete(_ request: CompletionRequest, into sink: any CompletionSink) async throws {
        guard let provider = byModel[request.model] else { throw ProviderError(.rejected, "model \(request.model) is not offered by this server") }
        try await provider.complete(request, into: sink)
    }
}
