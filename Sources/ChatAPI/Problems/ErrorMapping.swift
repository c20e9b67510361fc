import ChatCore
import HTTPServer
public import Logging
import Synchronization

extension RouterBuilder {
    /// Answers whatever a handler throws through `ErrorMapping`, the one place where errors
    /// become statuses. Every `register` of this module calls it, so a router with any of
    /// parley's routes renders errors the same way.
    mutating func renderErrors(_ logger: Logger) {
        errorRenderer = { error in ErrorMapping.problem(for: error, logger: logger).response }
    }
}

/// The one place where errors become HTTP statuses.
public enum ErrorMapping {
    public static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let domain as DomainError:
            return problem(for: domain)
        case let failure as TurnFailure:
            let status: HTTPStatus = switch failure.kind {
            case .upstreamTimeout: .gatewayTimeout
            case .rateLimited: .serviceUnavailable
            case .upstreamError: .badGateway
            }
            let saved = failure.savedMessage.map { "; the partial answer is saved as message \($0)" } ?? ""
            return Problem(status, code: failure.code, detail: "the model's upstream failed (\(failure.message))\(saved)")
        case is CancellationError:
            // The client left before its answer: nobody reads this, and it is no fault.
            logger.debug("request cancelled: the client went away")
            return Problem(.serviceUnavailable, code: "cancelled", detail: "the request was cancelled")
        case let failure as any DependencyFailure where failure.isTransient:
            // Once per episode (then at most every 30 s with a count), not once per request:
            // an outage must not flood the log.
            if let suppressed = unavailableEpisodes.shouldLog() {
                logger.warning("dependency unavailable", metadata: ["parley.error": "\(failure)", "parley.suppressed": "\(suppressed)"])
            }
            var p = Problem(.serviceUnavailable, code: "unavailable", detail: "a dependency of the server is unavailable; retry shortly")
            p.headers.add("Retry-After", "5")
            return p
        case let failure as any DependencyFailure where failure.isConstraintViolation:
            logger.notice("write refused by a constraint", metadata: ["parley.error": "\(failure)"])
            return Problem(.conflict, code: "conflict", detail: "the request conflicts with a change made at the same time; reload and retry")
        default:
            // The description too: a type alone does not say what failed. Log lines pass the redactor.
            logger.error("unhandled error", metadata: ["parley.error.type": "\(type(of: error))", "parley.error": "\(String(reflecting: error))"])
            return Problem(.internalServerError, code: "internal_error", detail: "the server could not complete the request")
        }
    }

    static func problem(for error: DomainError) -> Problem {
        switch error {
        case .validation(let fields):
            var p = Problem(.unprocessableContent, code: "validation_failed",
                            detail: fields.map { "\($0.field) \($0.message)" }.joined(separator: "; "))
            p.errors = fields.map { ($0.field, $0.message) }
            return p
        case .invalidCredentials:
            return unauthorized("invalid_credentials", "the e-mail or password is wrong")
        case .accountDisabled:
            return Problem(.forbidden, code: "account_disabled", detail: "this account is disabled")
        case .emailTaken:
            return Problem(.conflict, code: "email_taken", detail: "an account with this e-mail already exists")
        case .unauthenticated(let reason):
            return unauthorized("unauthenticated", reason, bearerError: "invalid_token")
        case .refreshTokenReused:
            return unauthorized("refresh_token_reused", "this refresh token was already used; every session of its family was signed out")
        case .forbidden(let reason):
            return Problem(.forbidden, code: "forbidden", detail: reason)
        case .notFound(let what):
            return Problem(.notFound, code: "not_found", detail: "\(what) not found")
        case .lastAdmin:
            return Problem(.conflict, code: "last_admin", detail: "the last active admin cannot be demoted or disabled")
        case .turnInProgress:
            return Problem(.conflict, code: "turn_in_progress",
                           detail: "an answer is still being generated in this session; wait for it or stop it first")
        case .noTurnInProgress:
            return Problem(.conflict, code: "no_turn_in_progress", detail: "no answer is being generated in this session")
        case .rateLimited(let refusal):
            let tier = refusal.usage.tier
            let detail = switch tier {
            case .perMinute: "at most \(refusal.usage.limit) messages a minute; retry in \(refusal.retryAfterSeconds) s"
            case .daily: "the daily quota of \(refusal.usage.limit) messages is used up; it resets at 00:00 UTC"
            case .dailyTokens: "the daily budget of \(refusal.usage.limit) tokens is spent; it resets at 00:00 UTC"
            case .concurrentStreams: "at most \(refusal.usage.limit) answers at once; wait for one to finish or stop it"
            case .authIP: "too many sign-in attempts from this address; retry in \(refusal.retryAfterSeconds) s"
            case .writes: "at most \(refusal.usage.limit) creations a minute; retry in \(refusal.retryAfterSeconds) s"
            case .loginFailures: "too many failed sign-ins for this account; retry in \(refusal.retryAfterSeconds) s"
            case .guestsPerClient: "at most \(refusal.usage.limit) guests a day from one address; retry in \(refusal.retryAfterSeconds) s, or register"
            }
            var p = Problem(.tooManyRequests, code: "rate_limited", detail: detail)
            p.members["tier"] = tier.rawValue
            p.headers.add("Retry-After", String(refusal.retryAfterSeconds))
            p.headers.add("X-RateLimit-Limit", String(refusal.usage.limit))
            p.headers.add("X-RateLimit-Remaining", "0")
            p.headers.add("X-RateLimit-Reset", String(refusal.retryAfterSeconds))
            return p
        case .countLimit(let limit):
            var p = Problem(.tooManyRequests, code: "limit_reached",
                            detail: "at most \(limit.limit) \(limit.what) per \(limit.per); delete some to make room")
            p.members["tier"] = limit.tier
            return p
        case .unavailable(let reason):
            var p = Problem(.serviceUnavailable, code: "unavailable", detail: reason)
            p.headers.add("Retry-After", "1")
            return p
        }
    }

    static func unauthorized(_ code: String, _ detail: String, bearerError: String? = nil) -> Problem {
        var p = Problem(.unauthorized, code: code, detail: detail)
        p.headers.add("WWW-Authenticate", bearerError.map { "Bearer realm=\"parley\", error=\"\($0)\"" } ?? "Bearer realm=\"parley\"")
        return p
    }
}

/// Failures of dependencies, logged once per episode: the first, then one line every
/// `interval` saying how many were not logged.
let unavailableEpisodes = EpisodeLog(interval: .seconds(30))

final class EpisodeLog: Sendable {
    private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))
    private let interval: Duration

    init(interval: Duration) {
        self.interval = interval
    }

    /// nil if this failure is not to be logged; else how many were not logged before it.
    func shouldLog(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { s in
            if let last = s.last, now - last < interval {
                s.suppressed += 1
                return nil
            }
            defer { s = (now, 0) }
            return s.suppressed
        }
    }
}
