import CHiredis
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
public import Logging

/// Listens on Redis channels on a connection and a thread of its own (a subscribed connection
/// blocks in a read until a message comes), reconnecting with backoff, and hands each message
/// to `onMessage` with its channel. It runs for the life of the process.
public final class RedisSubscriber: Sendable {
    private let configuration: RedisConfiguration
    private let channels: [String]
    private let logger: Logger
    private let onMessage: @Sendable (_ channel: String, _ message: String) -> Void
    /// Called each time the subscription is (re)established: messages published while it was
    /// down are lost, and a listener may need to assume it missed some.
    private let onSubscribed: (@Sendable () -> Void)?

    public init(configuration: RedisConfiguration, channels: [String], logger: Logger,
                onSubscribed: (@Sendable () -> Void)? = nil,
                onMessage: @escaping @Sendable (_ channel: String, _ message: String) -> Void) {
        self.configuration = configuration
        self.channels = channels
        self.logger = logger
        self.onSubscribed = onSubscribed
        self.onMessage = onMessage
    }

    public func start() {
        // A queue of its own on Dispatch's overcommit pool gets a thread of its own, which the
        // loop keeps for the life of the process (no Foundation `Thread`: full Foundation
        // would be linked for it alone).
        DispatchQueue(label: "parley.redis.subscriber").async { [self] in self.run() }
    }

    private func run() {
        var failures = 0
        while true {
            if let context = connect() {
                if failures > 0 { logger.info("redis subscription restored", metadata: ["parley.redis.channel": "\(channels.joined(separator: ","))"]) }
                failures = 0
                onSubscribed?()
                listen(context)
                redisFree(context)
            }
            failures += 1
            if failures == 1 { logger.warning("redis subscription lost; reconnecting", metadata: ["parley.redis.channel": "\(channels.joined(separator: ","))"]) }
            usleep(UInt32(min(50_000 << min(failures, 6), 2_000_000)))
        }
    }

    private func connect() -> UnsafeMutablePointer<redisContext>? {
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), redisTimeval(configuration.connectTimeout)) else {
            return nil
        }
        if context.pointee.err != 0 {
            redisFree(context)
            return nil
        }
        var commands: [[String]] = []
        if let password = configuration.password { commands.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]) }
        commands.append(["SUBSCRIBE"] + channels)
        for command in commands {
            guard let reply = redisCommand(command, on: context) else {
                redisFree(context)
                return nil
            }
            let failed = reply.pointee.type == REDIS_REPLY_ERROR
            freeReplyObject(reply)
            if failed {
                redisFree(context)
                return nil
            }
        }
        // SUBSCRIBE with several channels confirms each with a reply of its own; the first
        // was read above.
        for _ in channels.dropFirst() {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let reply = raw else {
                redisFree(context)
                return nil
            }
            freeReplyObject(reply)
        }
        return context
    }

    /// Reads `["message", channel, payload]` replies until the connection breaks.
    private func listen(_ context: UnsafeMutablePointer<redisContext>) {
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let reply = raw?.assumingMemoryBound(to: redisReply.self) else { return }
            defer { freeReplyObject(reply) }
            let r = reply.pointee
            guard r.type == REDIS_REPLY_ARRAY, r.elements == 3, let channel = r.element[1]?.pointee, let payload = r.element[2]?.pointee else { continue }
            onMessage(Self.text(channel), Self.text(payload))
        }
    }

    private static func text(_ reply: redisReply) -> String {
        guard let str = reply.str else { return "" }
        return str.withMemoryRebound(to: UInt8.self, capacity: Int(reply.len)) {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(reply.len)), as: UTF8.self)
        }
    }
}
