public import ChatCore
public import HTTPServer
public import Logging

/// `/v1/sessions` and a session's message history. Another user's session is 404 everywhere.
public enum SessionRoutes {
    public static func register(on router: inout RouterBuilder, chat: ChatDependencies, auth authDeps: AuthDependencies, logger: Logger) {
        let auth = BearerAuthentication(authDeps)
        let bodyLimit = 16 * 1024

        router.post("/v1/sessions", bodyLimit: bodyLimit, handle(logger) { request in
            let principal = try await auth.principal(for: request)
            let body = request.body.isEmpty ? CreateSessionBody(title: nil, model: nil, projectId: nil)
                : try JSONBody.decode(CreateSessionBody.self, from: request)
            var projectID: Project.ID?
            if let text = body.projectId {
                guard let id = Project.ID(text) else { throw Problem(.notFound, code: "not_found", detail: "project not found") }
                projectID = id
            }
            let session = try await CreateSession(chat)(principal, title: body.title, model: body.model, projectID: projectID)
            return JSONBody.response(ChatSessionDTO(session), status: .created)
        })
        router.get("/v1/sessions", handle(logger) { request in
            let principal = try await auth.principal(for: request)
            let limit = try request.queryInteger("limit", default: 20, range: 1...100)
            let page = try await ListSessions(chat)(principal, limit: limit, cursor: request.queryItems["cursor"])
            return JSONBody.response(ListDTO(items: page.items.map(ChatSessionDTO.init), nextCursor: page.nextCursor))
        })
        router.get("/v1/sessions/{id}", handle(logger) { request in
            let principal = try await auth.principal(for: request)
            return JSONBody.response(ChatSessionDTO(try await GetSession(chat)(principal, id: try request.identifier("id", of: "session"))))
        })
        router.patch("/v1/sessions/{id}", bodyLimit: bodyLimit, handle(logger) { request in
            let principal = try await auth.principal(for: request)
            let id: ChatSession.ID = try request.identifier("id", of: "session")
            let body = try JSONBody.decode(UpdateSessionBody.self, from: request)
            return JSONBody.response(ChatSessionDTO(try await UpdateSession(chat)(principal, id: id, title: body.title, model: body.model)))
        })
        router.delete("/v1/sessions/{id}", handle(logger) { request in
            let principal = try await auth.principal(for: request)
            try await DeleteSession(chat)(principal, id: try request.identifier("id", of: "session"))
            return Response(status: .noContent)
        })
        router.get("/v1/sessions/{id}/messages", handle(logger) { request in
            let principal = try await auth.principal(for: request)
            let limit = try request.queryInteger("limit", default: 50, range: 1...200)
            let page = try await ListMessages(chat)(principal, sessionID: try request.identifier("id", of: "session"),
                                                    limit: limit, cursor: request.queryItems["cursor"])
            return JSONBody.response(ListDTO(items: page.items.map(MessageDTO.init), nextCursor: page.nextCursor))
        })
    }
}
