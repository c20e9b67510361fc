#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import QueueExecutor
import Synchronization

/// Writing responses: complete bodies, streamed bodies with back-pressure, and the final
/// flush and lingering close. Everything here runs on the connection's queue, except `send`,
/// which runs in the handler's task and hops onto the queue for each socket step.
extension Connection {
    /// Writes a response; for a streamed body, runs its producer with back-pressure.
    /// Runs in the handler's task, hopping to the connection's queue for every socket step.
    func send(_ response: Response, for head: RequestHead) async {
        let finish = response.finish
        switch response.body {
        case .bytes(let bytes):
            io.queue.async {
                let written = self.writeComplete(response, bytes: bytes, head: head)
                finish?(ResponseFinish(bodyBytes: written ? bytes.count : 0, completed: written))
            }
        case .stream(let produce):
            // The producer runs on the connection's queue: each event it writes then goes to
            // the socket where it is made, with no hop to the queue and back (a streamed token
            // costs one thread hand-off, the one that wakes the producer).
            await io.executor.run { await self.stream(response, produce, head: head) }
        }
    }

    private func stream(_ response: Response, _ produce: @Sendable (ResponseBodyWriter) async throws -> Void, head: RequestHead) async {
        let finish = response.finish
        guard await onQueue({ self.writeStreamHead(response, head: head) }) else {
            finish?(ResponseFinish(bodyBytes: 0, completed: false))
            return
        }
        if head.method == .head {
            await onQueue { self.finishStream(bodySent: false) }
            finish?(ResponseFinish(bodyBytes: 0, completed: true))
            return
        }
        let sent = BodyByteCount()
        let writer = ResponseBodyWriter { bytes in
            try await self.writeBody(bytes)
            sent.add(bytes.count)
        }
        do {
            try await produce(writer)
            await onQueue { self.finishStream(bodySent: true) }
            finish?(ResponseFinish(bodyBytes: sent.value, completed: true))
        } catch {
            // A half-sent body cannot be completed or replaced by an error: end the connection.
            if !(error is ConnectionClosedError) && !(error is CancellationError) {
                context.logger.warning("response stream failed", metadata: ["parley.error.type": "\(type(of: error))"])
            }
            await onQueue { self.close() }
            finish?(ResponseFinish(bodyBytes: sent.value, completed: false))
        }
    }

    /// Runs `body` on the connection's queue: at once when the caller is there already (a
    /// producer running on it), otherwise by a hop there and back.
    func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        if io.isCurrent { return body() }
        return await withCheckedContinuation { continuation in
            io.queue.async { continuation.resume(returning: body()) }
        }
    }

    func keepAliveDecision(_ head: RequestHead, framing: ResponseFraming) -> Bool {
        if case .untilClose = framing { return false }
        return head.keepAlive && !draining && !bodyLeftUnread
    }

    /// Queues a complete response; false if the connection was gone already.
    @discardableResult
    func writeComplete(_ response: Response, bytes: [UInt8], head: RequestHead) -> Bool {
        guard case .handling = phase else { return false }
        let framing = ResponseFraming.length(response.status.forbidsBody ? 0 : bytes.count)
        let keepAlive = keepAliveDecision(head, framing: framing)
        ResponseHeadEncoder.encode(response, framing: framing, keepAlive: keepAlive, requestVersion: head.version, into: &outbound)
        if head.method != .head && !response.status.forbidsBody { outbound.append(contentsOf: bytes) }
        context.recordResponse()
        responseComplete(keepAlive: keepAlive)
        return true
    }

    func writeStreamHead(_ response: Response, head: RequestHead) -> Bool {
        guard case .handling = phase else { return false }
        streamFraming = head.version == .http1_1 ? .chunked : .untilClose
        currentKeepAlive = keepAliveDecision(head, framing: streamFraming)
        ResponseHeadEncoder.encode(
            response, framing: streamFraming, keepAlive: currentKeepAlive, requestVersion: head.version, into: &outbound
        )
        flush()
        if case .closed = phase { return false }
        return true
    }

    func writeBody(_ bytes: [UInt8]) async throws {
        if io.isCurrent {
            // The producer runs on the queue: write now, and wait only if the client is behind.
            guard try queueBody(bytes) else { return }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Still on the queue (the closure runs before the task suspends): no flush can come between.
                self.writeWaiter = continuation
            }
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            io.queue.async {
                do {
                    // The client is slower than the producer: suspend it until the buffer drains.
                    if try self.queueBody(bytes) { self.writeWaiter = continuation } else { continuation.resume() }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Queues and flushes body bytes, on the queue; true when the producer must wait for the
    /// client to read (more than the high-water mark is waiting).
    private func queueBody(_ bytes: [UInt8]) throws -> Bool {
        assertOnQueue()
        guard case .handling = phase else { throw ConnectionClosedError() }
        if case .chunked = streamFraming {
            ChunkedEncoder.appendChunk(bytes, to: &outbound)
        } else {
            outbound.append(contentsOf: bytes)
        }
        flush()
        if case .closed = phase { throw ConnectionClosedError() }
        return pendingOutbound > context.configuration.outboundHighWaterMark
    }

    func finishStream(bodySent: Bool) {
        guard case .handling = phase else { return }
        if bodySent, case .chunked = streamFraming { outbound.append(contentsOf: ChunkedEncoder.terminator) }
        context.recordResponse()
        responseComplete(keepAlive: currentKeepAlive)
    }

    /// After a response: close if it was the last, otherwise go back to reading and handle
    /// any pipelined request already buffered.
    func responseComplete(keepAlive: Bool) {
        requestsServed += 1
        guard keepAlive else {
            phase = .closing
            // Unread input (a body left unread, pipelined requests) is drained while lingering,
            // so closing does not reset the connection under the answer.
            resumeReading()
            flush()
            return
        }
        phase = .awaitingHead
        resumeReading()
        flush()
        if case .closed = phase { return }
        if draining, readIndex == inbound.count {
            phase = .closing
            flush()
            return
        }
        if timerKind != .write { arm(.idle, context.idleTimeout) }
        process()
    }

    // MARK: - Writing

    var pendingOutbound: Int { outbound.count - outboundIndex }

    /// Writes as much of the outbound buffer as the socket takes; waits for writability
    /// for the rest. Resumes a suspended producer once the buffer is half drained.
    func flush() {
        assertOnQueue()
        if case .closed = phase { return }
        while outboundIndex < outbound.count {
            let n = outbound.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(fd, base + outboundIndex, raw.count - outboundIndex, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outboundIndex += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                context.recordBuffered(pendingOutbound)
                waitForWritable()
                if timerKind != .write { arm(.write, context.configuration.writeTimeout) }
                if outboundIndex > 64 * 1024 {
                    outbound.removeFirst(outboundIndex)
                    outboundIndex = 0
                }
                resumeWriterIfDrained()
                return
            }
            close()  // EPIPE, ECONNRESET: the client is gone.
            return
        }
        if outbound.capacity > 16 * 1024 { outbound = [] } else { outbound.removeAll(keepingCapacity: true) }
        outboundIndex = 0
        if writeSourceResumed, let writeSource {
            writeSource.suspend()
            writeSourceResumed = false
        }
        resumeWriterIfDrained()
        if timerKind == .write { rearmAfterWrite() }
        if case .closing = phase { lingerClose() }
    }

    func resumeWriterIfDrained() {
        guard let waiter = writeWaiter, pendingOutbound <= context.configuration.outboundHighWaterMark / 2 else { return }
        writeWaiter = nil
        waiter.resume()
    }

    func waitForWritable() {
        if writeSource == nil {
            let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: io.queue)
            source.setEventHandler { [self] in
                if timerKind == .write { arm(.write, context.configuration.writeTimeout) }
                flush()
            }
            source.setCancelHandler { [self] in sourceCancelled() }
            openSources += 1
            writeSource = source
        }
        if !writeSourceResumed, let writeSource {
            writeSourceResumed = true
            writeSource.resume()
        }
    }

    /// After the last response: shut the write side so the client sees the end, then read
    /// and discard what it still sends for a moment before closing. Closing with unread
    /// input would make the kernel send a reset that can destroy the response in flight.
    func lingerClose() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        inbound = []
        readIndex = 0
        resumeReading()
        arm(.linger, .seconds(2))
    }

    func reject(_ status: HTTPStatus, detail: String, retryAfter: Int? = nil) {
        if case .handling = phase { return }
        context.logger.debug(
            "refused request", metadata: ["parley.connection": "\(id)", "parley.status": "\(status.code)", "parley.detail": "\(detail)"]
        )
        let response = Response.problem(status, detail: detail, extraHeaders: HTTPFields(retryAfter.map { [("Retry-After", "\($0)")] } ?? []))
        if case .bytes(let bytes) = response.body {
            ResponseHeadEncoder.encode(response, framing: .length(bytes.count), keepAlive: false, requestVersion: .http1_1, into: &outbound)
            outbound.append(contentsOf: bytes)
        }
        context.recordResponse()
        phase = .closing
        flush()
    }
}

/// Body bytes a streamed response has written, counted by its producer's task.
final class BodyByteCount: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ bytes: Int) { count.add(bytes, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
