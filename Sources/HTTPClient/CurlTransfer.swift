internal import CCurl
import Synchronization

/// One transfer on the shared multi handle. libcurl calls back into it on the driver thread;
/// it turns the status line and headers into an `IncomingResponse` and the body into pieces
/// of its stream.
///
/// `@unchecked Sendable`: `status`, `headers`, `headResumed`, `sinkEnded`, `sinkError`, `easy`
/// and `headerList` are touched only on the driver thread (in libcurl callbacks and in
/// `CurlHTTPClient.drive`); the continuations are thread-safe by contract; `id`, `sink` and
/// `onEnough` never change.
final class CurlTransfer: @unchecked Sendable {
    let id: Int
    let easy: UnsafeMutableRawPointer
    var headerList: UnsafeMutablePointer<curl_slist>?
    private var status = 0
    private var headers: [String: String] = [:]
    private var headResumed = false
    private var head: CheckedContinuation<IncomingResponse, any Error>?
    private let body: AsyncThrowingStream<[UInt8], any Error>
    private let bodyContinuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    /// Takes a 2xx body instead of `body`, on this thread.
    private let sink: ResponseBodySink?
    /// Told (on the driver thread) when the sink has had enough.
    private let onEnough: @Sendable (Int) -> Void
    private var sinkEnded = false
    private var sinkError: (any Error)?
    /// Set by the caller's cancellation from any thread; the driver never starts a transfer
    /// whose caller was cancelled before its `add` came up.
    let cancelRequested = Atomic<Bool>(false)

    init(id: Int, easy: UnsafeMutableRawPointer, sink: ResponseBodySink?, onEnough: @escaping @Sendable (Int) -> Void) {
        self.id = id
        self.easy = easy
        self.sink = sink
        self.onEnough = onEnough
        (body, bodyContinuation) = AsyncThrowingStream.makeStream(of: [UInt8].self, throwing: (any Error).self)
    }

    /// Set before the transfer is added to the multi handle, so callbacks always find it.
    func setHeadContinuation(_ continuation: CheckedContinuation<IncomingResponse, any Error>) {
        head = continuation
    }

    func onBodyTermination(_ handler: @escaping @Sendable () -> Void) {
        bodyContinuation.onTermination = { termination in
            if case .cancelled = termination { handler() }
        }
    }

    // MARK: Driver-thread callbacks

    /// One header line. A new status line starts a new head (after `100 Continue` or a redirect).
    func headerLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        // Trim bytes, not Characters: "\r\n" is a single Character in Swift.
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D { end -= 1 }
        let line = String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            let parts = line.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if line.isEmpty {
            if status >= 200 { resumeHead() }
        } else if let colon = line.firstIndex(of: ":") {
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
        }
    }

    /// One piece of the body; false aborts the transfer (the sink threw).
    func bodyBytes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        resumeHead()
        guard let sink, (200..<300).contains(status) else {
            bodyContinuation.yield(Array(bytes))
            return true
        }
        if sinkEnded { return true }
        do {
            if try sink(bytes) == .enough {
                sinkEnded = true
                bodyContinuation.finish()
                onEnough(id)
            }
            return true
        } catch {
            sinkError = error
            return false
        }
    }

    /// The transfer ended: normally (`error == nil`) or not. Either the head was never
    /// delivered and the caller gets the error, or the body stream ends with it.
    func finish(error transferError: HTTPClientError?) {
        // The sink's own error, not libcurl's "write error" that aborting with it caused.
        let error: (any Error)? = sinkError ?? transferError
        if !headResumed, let head {
            headResumed = true
            self.head = nil
            if let error {
                head.resume(throwing: error)
                bodyContinuation.finish(throwing: error)
                return
            }
            head.resume(returning: IncomingResponse(status: status, headers: headers, body: body))
        }
        if let error { bodyContinuation.finish(throwing: error) } else { bodyContinuation.finish() }
    }

    private func resumeHead() {
        guard !headResumed, let head else { return }
        headResumed = true
        self.head = nil
        head.resume(returning: IncomingResponse(status: status, headers: headers, body: body))
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String { String(self).trimmingCharacters(in: set) }
}
