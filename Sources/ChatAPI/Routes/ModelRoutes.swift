public import ChatCore
public import HTTPServer
public import Logging

/// `GET /v1/models`: the models this server offers.
public enum ModelRoutes {
    struct ModelDTO: Encodable {
        let id: String
        let provider: String
    }

    public static func register(on router: inout RouterBuilder, provider: any ChatProvider, deps: AuthDependencies, logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(deps)
        let models = provider.models.map { ModelDTO(id: $0.id, provider: $0.provider) }
        router.get("/v1/models", auth: auth) { request, principal in
            return JSONBody.response(ListDTO(items: models, nextCursor: nil))
        }
    }
}
