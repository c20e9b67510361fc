public import ChatCore
public import HTTPServer
public import Logging
import JSONText

/// `/v1/sessions` and a session's message history. Another user's session is 404 everywhere.
public enum SessionRoutes {
    public static func register(on router: inout RouterBuilder, chat: ChatDependencies, auth authDeps: AuthDependencies,
                                limits: RouteLimits, logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(authDeps)
        let bodyLimit = 16 * 1024
        // A ChatGPT export of years of conversations is large; parley's own exports are too.
        let importBodyLimit = 32 * 1024 * 1024

        router.post("/v1/sessions", bodyLimit: bodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let body = request.body.isEmpty ? CreateSessionBody(title: nil, model: nil, projectId: nil)
                : try JSONBody.decode(CreateSessionBody.self, from: request)
            var projectID: Project.ID?
            if let text = body.projectId {
                guard let id = Project.ID(text) else { throw Problem(.notFound, code: "not_found", detail: "project not found") }
                projectID = id
            }
            let session = try await CreateSession(chat)(principal, title: body.title, model: body.model, projectID: projectID,
                                                        systemPrompt: body.systemPrompt)
            return JSONBody.response(ChatSessionDTO(session), status: .created)
        }
        router.get("/v1/sessions", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 20, range: 1...100)
            var projectID: Project.ID?
            if let text = request.queryItems["project_id"] {
                guard let id = Project.ID(text) else { throw JSONBody.validation("project_id", "must be a project id") }
                projectID = id
            }
            let page = try await ListSessions(chat)(principal, projectID: projectID, limit: limit, cursor: request.cursor)
            return JSONBody.response(ListDTO(items: page.items.map(ChatSessionDTO.init), nextCursor: page.nextCursor))
        }
        router.get("/v1/sessions/{id}", auth: auth) { request, principal in
            return JSONBody.response(ChatSessionDTO(try await GetSession(chat)(principal, id: try request.identifier("id", of: "session"))))
        }
        router.patch("/v1/sessions/{id}", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let id: ChatSession.ID = try request.identifier("id", of: "session")
            let body = try JSONBody.decode(UpdateSessionBody.self, from: request)
            var leaf: Message.ID?
            if let text = body.activeLeafId {
                guard let parsed = Message.ID(text) else { throw Problem(.notFound, code: "not_found", detail: "message not found") }
                leaf = parsed
            }
            var project: Project.ID?? = nil
            if let given = body.projectId {
                if let text = given {
                    guard let id = Project.ID(text) else { throw Problem(.notFound, code: "not_found", detail: "project not found") }
                    project = .some(id)
                } else {
                    project = .some(nil)
                }
            }
            return JSONBody.response(ChatSessionDTO(try await UpdateSession(chat)(principal, id: id, title: body.title, model: body.model,
                                                                                  activeLeafID: leaf, project: project, systemPrompt: body.systemPrompt)))
        }
        router.delete("/v1/sessions/{id}", auth: auth) { request, principal in
            try await DeleteSession(chat)(principal, id: try request.identifier("id", of: "session"))
            return Response(status: .noContent)
        }
        router.get("/v1/sessions/{id}/messages", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 50, range: 1...200)
            let page = try await ListMessages(chat)(principal, sessionID: try request.identifier("id", of: "session"),
                                                    limit: limit, cursor: request.cursor)
            return JSONBody.response(ListDTO(items: page.items.map(MessageDTO.init), nextCursor: page.nextCursor))
        }
        router.delete("/v1/sessions/{id}/messages/{mid}", auth: auth) { request, principal in
            try await DeleteMessages(chat)(principal, sessionID: try request.identifier("id", of: "session"),
                                           messageID: try request.identifier("mid", of: "message"))
            return Response(status: .noContent)
        }
        router.get("/v1/sessions/{id}/tree", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 500, range: 1...1000)
            let include = request.queryItems["include"]
            guard include == nil || include == "content" else { throw JSONBody.validation("include", "must be content") }
            let (session, page) = try await GetTree(chat)(principal, sessionID: try request.identifier("id", of: "session"), limit: limit,
                                                          cursor: request.cursor, withContent: include == "content")
            return JSONBody.response(TreeDTO(activeLeafId: session.activeLeafID?.description,
                                             items: page.items.map { TreeDTO.Node($0, withContent: include == "content") }, nextCursor: page.nextCursor))
        }
        router.post("/v1/sessions/import", bodyLimit: importBodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let format = request.queryItems["format"] ?? "parley"
            let conversations: [ImportedSession]
            switch format {
            case "parley": conversations = try JSONBody.decode(ParleyImportBody.self, from: request).conversations()
            case "openai": conversations = try JSONBody.decode(OpenAIConversationsBody.self, from: request).sessions()
            default: throw JSONBody.validation("format", "must be parley or openai")
            }
            let sessions = try await ImportSessions(chat)(principal, conversations)
            return JSONBody.response(ListDTO(items: sessions.map(ChatSessionDTO.init), nextCursor: nil), status: .created)
        }
        router.get("/v1/users/me/export", auth: auth) { request, principal in
            let format = request.queryItems["format"] ?? "json"
            guard format == "json" || format == "jsonl" else { throw JSONBody.validation("format", "must be json or jsonl") }
            let export = ExportAccount(chat)
            var response = Response(headers: HTTPFields(), body: .stream { writer in
                var first = true
                if format == "json" {
                    try await writer.write(#"{"format":"parley.account.v1","user_id":\#(jsonQuoted(principal.user.id.description)),"sessions":["#)
                }
                try await export(principal) { session, messages in
                    let document = JSONBody.encoded(ExportDTO(session: ChatSessionDTO(session), messages: messages.map(MessageDTO.init)))
                    if format == "json" {
                        try await writer.write((first ? [] : Array(",".utf8)) + document)
                    } else {
                        try await writer.write(document + Array("\n".utf8))
                    }
                    first = false
                }
                if format == "json" { try await writer.write("]}") }
            })
            response.headers.set("Content-Type", format == "json" ? "application/json" : "application/jsonl")
            response.headers.set("Content-Disposition", "attachment; filename=\"parley-\(principal.user.id).\(format)\"")
            return response
        }
        router.post("/v1/sessions/{id}/fork", bodyLimit: bodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let id: ChatSession.ID = try request.identifier("id", of: "session")
            let body = try JSONBody.decode(ForkBody.self, from: request)
            guard let messageID = Message.ID(body.messageId) else { throw Problem(.notFound, code: "not_found", detail: "message not found") }
            return JSONBody.response(ChatSessionDTO(try await ForkSession(chat)(principal, sessionID: id, through: messageID)), status: .created)
        }
        router.get("/v1/sessions/{id}/export", auth: auth) { request, principal in
            let id: ChatSession.ID = try request.identifier("id", of: "session")
            let format = request.queryItems["format"] ?? "markdown"
            guard format == "markdown" || format == "json" else { throw JSONBody.validation("format", "must be markdown or json") }
            let (session, messages) = try await ExportSession(chat)(principal, sessionID: id, activePathOnly: format == "markdown")
            var response: Response
            if format == "json" {
                response = JSONBody.response(ExportDTO(session: ChatSessionDTO(session), messages: messages.map(MessageDTO.init)))
            } else {
                response = Response(contentType: "text/markdown; charset=utf-8", body: Array(MarkdownExport.render(session, messages).utf8))
            }
            response.headers.set("Content-Disposition", "attachment; filename=\"parley-\(session.id).\(format == "json" ? "json" : "md")\"")
            return response
        }
    }
}

/// A conversation as a Markdown document: the title, then each message under a heading
/// naming its author, time and, when it did not complete, its status.
enum MarkdownExport {
    static func render(_ session: ChatSession, _ messages: [Message]) -> String {
        var out = "# \(session.title)\n\nModel `\(session.model)` · started \(Timestamp.format(session.createdAt)) · \(messages.count) messages\n"
        for message in messages {
            let author = switch message.role {
            case .user: "User"
            case .assistant: "Assistant"
            case .system: "System"
            }
            let status = message.status == .complete ? "" : " (\(message.status.rawValue))"
            out += "\n## \(author) · \(Timestamp.format(message.createdAt))\(status)\n\n\(message.content)\n"
        }
        return out
    }
}
