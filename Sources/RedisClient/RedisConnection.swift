import CHiredis
import Glibc
import Logging
import QueueExecutor

/// One connection driven by hiredis's blocking API, an actor whose executor is a serial queue
/// of its own: blocking calls never run on the cooperative pool, and the compiler checks that
/// the context is touched nowhere else.
actor RedisConnection {
    private let executor: DispatchQueueExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let configuration: RedisConfiguration
    private let logger: Logger
    private var context: UnsafeMutablePointer<redisContext>?
    private var failures = 0
    private var retryAt: ContinuousClock.Instant?

    init(configuration: RedisConfiguration, label: String, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        executor = DispatchQueueExecutor(label: label)
    }

    isolated deinit {
        if let context { redisFree(context) }
    }

    func command(_ arguments: [String]) throws(RedisError) -> RedisValue {
        do {
            let context = try connected()
            return try Self.send(arguments, on: context)
        } catch where error.kind == .unavailable {
            broken(error)
            throw error
        }
    }

    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// The open context, connecting (and authenticating) if needed. After a failure, new
    /// attempts wait out a backoff (50 ms doubling to 2 s) and fail fast meanwhile, so an
    /// outage costs requests nothing but the decision of what to do without Redis.
    private func connected() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        if let retryAt, ContinuousClock.now < retryAt { throw RedisError(.unavailable, "not connected; reconnecting") }
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), redisTimeval(configuration.connectTimeout)) else {
            throw RedisError(.unavailable, "could not allocate a connection")
        }
        if context.pointee.err != 0 {
            let message = String(cString: parley_redis_errstr(context))
            redisFree(context)
            throw RedisError(.unavailable, "cannot connect to \(configuration.host):\(configuration.port): \(message)")
        }
        redisSetTimeout(context, redisTimeval(configuration.commandTimeout))
        do {
            if let password = configuration.password {
                _ = try Self.send(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password], on: context)
            }
            if configuration.database != 0 { _ = try Self.send(["SELECT", String(configuration.database)], on: context) }
        } catch {
            redisFree(context)
            throw error
        }
        if failures > 0 { logger.info("redis connection restored", metadata: ["parley.redis.host": "\(configuration.host)"]) }
        failures = 0
        retryAt = nil
        self.context = context
        return context
    }

    private func broken(_ error: RedisError) {
        if let context { redisFree(context) }
        context = nil
        failures += 1
        let backoff = min(Duration.milliseconds(50) * (1 << min(failures - 1, 6)), .seconds(2))
        retryAt = ContinuousClock.now + backoff
        if failures == 1 { logger.warning("redis unavailable", metadata: ["parley.error": "\(error)"]) }
    }

    private static func send(_ arguments: [String], on context: UnsafeMutablePointer<redisContext>) throws(RedisError) -> RedisValue {
        guard let reply = redisCommand(arguments, on: context) else {
            throw RedisError(.unavailable, context.pointee.err != 0 ? String(cString: parley_redis_errstr(context)) : "no reply")
        }
        defer { freeReplyObject(reply) }
        return try decode(reply)
    }

    private static func decode(_ reply: UnsafeMutablePointer<redisReply>) throws(RedisError) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text(r))
        case REDIS_REPLY_STATUS: return .status(text(r))
        case REDIS_REPLY_INTEGER: return .integer(Int(r.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ERROR: throw RedisError(.server, text(r))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            for i in 0..<Int(r.elements) {
                guard let element = r.element[i] else { items.append(.null); continue }
                items.append(try decode(element))
            }
            return .array(items)
        default:
            throw RedisError(.server, "an unknown reply type \(r.type)")
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard let str = r.str else { return "" }
        return str.withMemoryRebound(to: UInt8.self, capacity: Int(r.len)) { String(decoding: UnsafeBufferPointer(start: $0, count: Int(r.len)), as: UTF8.self) }
    }

}

/// Sends one command and reads its reply (hiredis's blocking call); nil when the connection
/// failed (`context.pointee.err` says why). The caller frees the reply.
func redisCommand(_ arguments: [String], on context: UnsafeMutablePointer<redisContext>) -> UnsafeMutablePointer<redisReply>? {
    let strings = arguments.map { strdup($0) }
    defer { strings.forEach { free($0) } }
    var pointers = strings.map { UnsafePointer<CChar>($0) }
    let lengths = arguments.map { $0.utf8.count }
    let raw = pointers.withUnsafeMutableBufferPointer { argv in
        lengths.withUnsafeBufferPointer { redisCommandArgv(context, Int32(arguments.count), argv.baseAddress, $0.baseAddress) }
    }
    return raw?.assumingMemoryBound(to: redisReply.self)
}

/// A duration as hiredis's timeouts take it.
func redisTimeval(_ duration: Duration) -> timeval {
    let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    return timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
}
