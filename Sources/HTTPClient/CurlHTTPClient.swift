private import CCurl
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A streaming HTTP client on libcurl (used for LLM upstreams and by `parley chat`): one multi handle drives every transfer from one
/// dedicated thread, so there is no thread per request, connections are reused across
/// transfers, and HTTP/2 is used when a TLS upstream offers it. libcurl never runs on the
/// cooperative pool. The thread runs libcurl's socket interface on epoll (see the CCurl
/// shim), so a token arriving on one of a thousand streams costs work for that stream only.
///
/// Other threads talk to the driver thread only through `commands` and the loop's wake-up
/// (an eventfd write, safe from any thread).
public final class CurlHTTPClient: Sendable {
    fileprivate enum Command {
        case add(CurlTransfer)
        case cancel(Int)
        /// A body sink had enough: end the transfer if it has not ended within `linger`.
        case linger(Int)
        case stop
    }

    /// `@unchecked Sendable`: the multi handle and the loop state are used only on the driver
    /// thread, except `parley_curl_loop_wake`, which only writes to the loop's eventfd.
    fileprivate struct Multi: @unchecked Sendable {
        let handle: UnsafeMutableRawPointer
        let loop: UnsafeMutablePointer<parley_curl_loop>
    }

    /// Commands for the driver thread, shared by the client and the thread.
    fileprivate final class Commands: Sendable {
        let pending = Mutex<[Command]>([])
    }

    private let multi: Multi
    private let commands = Commands()
    private let nextID = Atomic<Int>(0)

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Throws `HTTPClientError` (kind `connect`) when libcurl or the kernel cannot give what the
    /// driver needs (memory, an epoll or eventfd descriptor).
    /// `lingerAfterEnough`: how long a transfer whose body sink had enough may go on ending
    /// by itself (so its connection can be reused) before it is closed.
    public init(lingerAfterEnough: Duration = .seconds(5)) throws {
        _ = Self.globalInit
        guard let handle = curl_multi_init() else { throw HTTPClientError(.connect, "libcurl could not create a multi handle (out of memory)") }
        let loop = UnsafeMutablePointer<parley_curl_loop>.allocate(capacity: 1)
        guard parley_curl_loop_init(loop, handle) == 0 else {
            let code = errno
            loop.deallocate()
            curl_multi_cleanup(handle)
            throw HTTPClientError(.connect, "the HTTP client could not make its epoll or eventfd descriptor (errno \(code))")
        }
        multi = Multi(handle: handle, loop: loop)
        let multi = self.multi
        let commands = self.commands
        // A queue of its own on Dispatch's overcommit pool gets a thread of its own, which the
        // loop keeps until the client stops.
        DispatchQueue(label: "parley.curl").async { Self.drive(multi, commands, linger: lingerAfterEnough) }
    }

    deinit {
        send(.stop)
    }

    private func send(_ command: Command) {
        commands.pending.withLock { $0.append(command) }
        parley_curl_loop_wake(multi.loop)
    }

    /// Starts a transfer and returns once the response head has arrived; the body follows
    /// in `IncomingResponse.body`. Throws `HTTPClientError` if the upstream cannot be reached.
    /// Cancelling the calling task (before the head) or the task reading the body (after)
    /// removes the transfer from the multi handle at once, closing its connection.
    ///
    /// With a `sink`, a successful response's body goes to it on the driver thread instead of
    /// to `body` (see `ResponseBodySink`).
    public func send(_ request: OutgoingRequest, sink: ResponseBodySink? = nil) async throws -> IncomingResponse {
        // A caller cancelled already (a client that left, a stop) starts no transfer at all.
        if Task.isCancelled { throw HTTPClientError(.cancelled, "the transfer was cancelled before it started") }
        guard let easy = curl_easy_init() else { throw HTTPClientError(.connect, "libcurl could not create a handle") }
        let commands = self.commands
        // Called on the driver thread, which reads its commands before it waits again: no wake-up needed.
        let transfer = CurlTransfer(id: nextID.add(1, ordering: .relaxed).newValue, easy: easy, sink: sink) { id in
            commands.pending.withLock { $0.append(.linger(id)) }
        }
        configure(transfer, request)
        let id = transfer.id
        transfer.onBodyTermination { [weak self] in self?.send(.cancel(id)) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.setHeadContinuation(continuation)
                send(.add(transfer))
            }
        } onCancel: {
            // Cancelled between the check above and the add: the flag stops the add.
            transfer.cancelRequested.store(true, ordering: .releasing)
            send(.cancel(id))
        }
    }

    private func configure(_ transfer: CurlTransfer, _ request: OutgoingRequest) {
        let easy = transfer.easy
        parley_curl_set_string(easy, CURLOPT_URL, request.url)
        parley_curl_set_long(easy, CURLOPT_NOSIGNAL, 1)
        parley_curl_set_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        parley_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.components.seconds) * 1000 + Int(request.connectTimeout.components.attoseconds / 1_000_000_000_000_000))
        // HTTP/2 over TLS when the upstream offers it (one connection, many streams); HTTP/1.1 otherwise.
        parley_curl_set_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        if request.method == "POST" || !request.body.isEmpty {
            parley_curl_set_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count)
            // COPYPOSTFIELDS copies now, so the Swift array need not outlive this call.
            request.body.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    _ = parley_curl_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    _ = parley_curl_set_string(easy, CURLOPT_COPYPOSTFIELDS, "")
                }
            }
        }
        if request.method != "POST" && request.method != "GET" {
            parley_curl_set_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        // libcurl would otherwise send `Expect: 100-continue` for larger bodies and wait.
        list = curl_slist_append(list, "Expect:")
        transfer.headerList = list
        parley_curl_set_slist(easy, CURLOPT_HTTPHEADER, list)

        let context = Unmanaged.passRetained(transfer).toOpaque()  // released in `finish`
        parley_curl_set_pointer(easy, CURLOPT_PRIVATE, context)
        parley_curl_set_pointer(easy, CURLOPT_WRITEDATA, context)
        parley_curl_set_pointer(easy, CURLOPT_HEADERDATA, context)
        parley_curl_set_write_function(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            // Anything but the piece's size makes libcurl abort the transfer.
            return transfer.bodyBytes(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        parley_curl_set_write_function(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            transfer.headerLine(UnsafeBufferPointer(start: UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count))
            return size * count
        }
    }

    // MARK: - The driver thread

    private static func drive(_ multi: Multi, _ commands: Commands, linger: Duration) {
        var active: [Int: CurlTransfer] = [:]
        // In the order they started lingering, so in deadline order.
        var lingering: [(id: Int, until: ContinuousClock.Instant)] = []
        var lingeringHead = 0
        while true {
            for command in commands.pending.withLock({ pending in defer { pending = [] }; return pending }) {
                switch command {
                case .add(let transfer):
                    if transfer.cancelRequested.load(ordering: .acquiring) {
                        finish(transfer, multi, error: HTTPClientError(.cancelled, "the transfer was cancelled before it started"))
                        continue
                    }
                    active[transfer.id] = transfer
                    curl_multi_add_handle(multi.handle, transfer.easy)
                case .cancel(let id):
                    if let transfer = active.removeValue(forKey: id) {
                        finish(transfer, multi, error: HTTPClientError(.cancelled, "the transfer was cancelled"))
                    }
                case .linger(let id):
                    lingering.append((id, .now + linger))
                case .stop:
                    for transfer in active.values { finish(transfer, multi, error: HTTPClientError(.cancelled, "the client was shut down")) }
                    curl_multi_cleanup(multi.handle)
                    parley_curl_loop_close(multi.loop)
                    multi.loop.deallocate()
                    return
                }
            }
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi.handle, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var context: UnsafeMutableRawPointer?
                _ = parley_curl_get_pointer(easy, CURLINFO_PRIVATE, &context)
                guard let context else { continue }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
                active[transfer.id] = nil
                let code = message.pointee.data.result
                finish(transfer, multi, error: code == CURLE_OK ? nil : upstreamError(code))
            }
            // Most end on their own long before; the loop wakes at least every second.
            let now = ContinuousClock.now
            while lingeringHead < lingering.count, lingering[lingeringHead].until <= now {
                if let transfer = active.removeValue(forKey: lingering[lingeringHead].id) {
                    finish(transfer, multi, error: HTTPClientError(.cancelled, "the transfer did not end after its body was read"))
                }
                lingeringHead += 1
            }
            if lingeringHead == lingering.count {
                lingering.removeAll(keepingCapacity: true)
                lingeringHead = 0
            }
            parley_curl_loop_run_once(multi.loop, multi.handle, 1000)
        }
    }

    /// Removes the transfer, frees its handle and header list, delivers the outcome, and
    /// releases the reference that libcurl's callbacks used.
    private static func finish(_ transfer: CurlTransfer, _ multi: Multi, error: HTTPClientError?) {
        curl_multi_remove_handle(multi.handle, transfer.easy)
        curl_easy_cleanup(transfer.easy)
        curl_slist_free_all(transfer.headerList)
        transfer.finish(error: error)
        Unmanaged.passUnretained(transfer).release()
    }

    private static func upstreamError(_ code: CURLcode) -> HTTPClientError {
        let message = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR,
             CURLE_PEER_FAILED_VERIFICATION:
            return HTTPClientError(.connect, message)
        case CURLE_OPERATION_TIMEDOUT:
            return HTTPClientError(.timeout, message)
        default:
            return HTTPClientError(.transfer, message)
        }
    }
}
