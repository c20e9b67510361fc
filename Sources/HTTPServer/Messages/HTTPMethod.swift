/// A request method the server implements (RFC 9110 §9).
///
/// The parser maps a syntactically valid method token it does not know to
/// `501 Not Implemented` (RFC 9110 §9.1), so handlers only ever see these.
public enum HTTPMethod: String, Sendable, Hashable, CaseIterable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case delete = "DELETE"
    case patch = "PATCH"
    case options = "OPTIONS"
    /// TRACE (RFC 9110) and QUERY (the safe method with a body) are known so that a route
    /// answers them with 405 and `Allow`, like any method it does not offer.
    case trace = "TRACE"
    case query = "QUERY"

    /// Recognises a method from the raw bytes of the request line without building a `String`.
    init?(bytes: ArraySlice<UInt8>) {
        switch bytes.count {
        case 3:
            if bytes.elementsEqual("GET".utf8) { self = .get } else if bytes.elementsEqual("PUT".utf8) { self = .put } else { return nil }
        case 4:
            if bytes.elementsEqual("POST".utf8) { self = .post } else if bytes.elementsEqual("HEAD".utf8) { self = .head } else { return nil }
        case 5:
            if bytes.elementsEqual("PATCH".utf8) {
                self = .patch
            } else if bytes.elementsEqual("TRACE".utf8) {
                self = .trace
            } else if bytes.elementsEqual("QUERY".utf8) {
                self = .query
            } else {
                return nil
            }
        case 6:
            if bytes.elementsEqual("DELETE".utf8) { self = .delete } else { return nil }
        case 7:
            if bytes.elementsEqual("OPTIONS".utf8) { self = .options } else { return nil }
        default:
            return nil
        }
    }
}
