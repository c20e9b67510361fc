/// The server's whole contract with an application: how large a body may be, and the
/// response to a complete request.
public protocol HTTPResponder: Sendable {
    /// The largest body accepted for a request with this head. It is asked before any
    /// body byte is read, so an oversized upload is refused without being received. 0 means
    /// the request takes no body: one that comes with a body is answered without reading it,
    /// and the connection is closed after the answer.
    func bodyLimit(for head: RequestHead) -> Int

    /// The response to a request. It does not throw: errors are answered inside.
    func respond(to request: Request) async -> Response
}
