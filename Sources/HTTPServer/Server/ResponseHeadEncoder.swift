/// How the body after a response head is delimited on the wire.
enum ResponseFraming {
    case length(Int)
    case chunked
    /// HTTP/1.0 clients cannot read chunked bodies: the end of a stream is the connection's end.
    case untilClose
}

/// Serialises a response head into one buffer, so head and a complete body leave in one write.
enum ResponseHeadEncoder {
    static func encode(
        _ response: Response, framing: ResponseFraming, keepAlive: Bool, requestVersion: HTTPVersion,
        into out: inout [UInt8]
    ) {
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(contentsOf: String(response.status.code).utf8)
        out.append(.space)
        out.append(contentsOf: response.status.reason.utf8)
        out.append(contentsOf: "\r\nDate: ".utf8)
        out.append(contentsOf: HTTPDate.current())
        out.append(contentsOf: "\r\n".utf8)
        for field in response.headers {
            if isFramingField(field.name) { continue }
            appendSanitised(field.name, to: &out)
            out.append(contentsOf: ": ".utf8)
            appendSanitised(field.value, to: &out)
            out.append(contentsOf: "\r\n".utf8)
        }
        switch framing {
        case .length(let n):
            if !response.status.forbidsBody {
                out.append(contentsOf: "Content-Length: ".utf8)
                out.append(contentsOf: String(n).utf8)
                out.append(contentsOf: "\r\n".utf8)
            }
        case .chunked:
            out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        case .untilClose:
            break
        }
        if !keepAlive {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if requestVersion == .http1_0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
    }

    private static func isFramingField(_ name: String) -> Bool {
        HTTPFields.namesMatch(name, "Content-Length") || HTTPFields.namesMatch(name, "Transfer-Encoding")
            || HTTPFields.namesMatch(name, "Connection") || HTTPFields.namesMatch(name, "Date")
    }

    /// A handler's header text cannot split the head: CR, LF and NUL become spaces. Text
    /// without them (all of it, in practice) is copied at once.
    private static func appendSanitised(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == .cr || $0 == .lf || $0 == 0 }) else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                out.append(byte == .cr || byte == .lf || byte == 0 ? .space : byte)
            }
        }
    }
}
