public import ChatCore
public import HTTPServer
public import Logging

/// `/v1/projects` and their system prompts (`/v1/projects/{id}/prompts`, `/v1/prompts/{id}`).
public enum ProjectRoutes {
    public static func register(on router: inout RouterBuilder, chat: ChatDependencies, auth authDeps: AuthDependencies,
                                limits: RouteLimits, logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(authDeps)
        let projects = ManageProjects(chat)
        let bodyLimit = 64 * 1024

        router.post("/v1/projects", bodyLimit: bodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let body = try JSONBody.decode(ProjectBody.self, from: request)
            guard let name = body.name else { throw JSONBody.validation("name", "is required") }
            return JSONBody.response(ProjectDTO(try await projects.create(principal, name: name, description: body.description)), status: .created)
        }
        router.get("/v1/projects", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 20, range: 1...100)
            let page = try await projects.list(principal, limit: limit, cursor: request.cursor)
            return JSONBody.response(ListDTO(items: page.items.map(ProjectDTO.init), nextCursor: page.nextCursor))
        }
        router.get("/v1/projects/{id}", auth: auth) { request, principal in
            return JSONBody.response(ProjectDTO(try await projects.get(principal, id: try request.identifier("id", of: "project"))))
        }
        router.patch("/v1/projects/{id}", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let id: Project.ID = try request.identifier("id", of: "project")
            let body = try JSONBody.decode(ProjectBody.self, from: request)
            return JSONBody.response(ProjectDTO(try await projects.update(principal, id: id, name: body.name, description: body.description)))
        }
        router.delete("/v1/projects/{id}", auth: auth) { request, principal in
            try await projects.delete(principal, id: try request.identifier("id", of: "project"))
            return Response(status: .noContent)
        }
        router.get("/v1/projects/{id}/prompts", auth: auth) { request, principal in
            let prompts = try await projects.prompts(principal, projectID: try request.identifier("id", of: "project"))
            return JSONBody.response(ListDTO(items: prompts.map(PromptDTO.init), nextCursor: nil))
        }
        router.post("/v1/projects/{id}/prompts", bodyLimit: bodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let projectID: Project.ID = try request.identifier("id", of: "project")
            let body = try JSONBody.decode(PromptBody.self, from: request)
            guard let text = body.text else { throw JSONBody.validation("text", "is required") }
            return JSONBody.response(PromptDTO(try await projects.addPrompt(principal, projectID: projectID, text: text, position: body.position)),
                                     status: .created)
        }
        router.patch("/v1/prompts/{id}", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let id: Prompt.ID = try request.identifier("id", of: "prompt")
            let body = try JSONBody.decode(PromptBody.self, from: request)
            return JSONBody.response(PromptDTO(try await projects.updatePrompt(principal, id: id, text: body.text, position: body.position)))
        }
        router.delete("/v1/prompts/{id}", auth: auth) { request, principal in
            try await projects.deletePrompt(principal, id: try request.identifier("id", of: "prompt"))
            return Response(status: .noContent)
        }
    }
}
