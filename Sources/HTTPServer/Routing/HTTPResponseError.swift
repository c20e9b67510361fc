/// An error that knows the response it should become; the router renders it.
/// Any other error a handler throws becomes a generic 500 that reveals nothing.
public protocol HTTPResponseError: Error {
    var response: Response { get }
}
