import ChatAPI
import Logging

enum LogSetup {
    /// Installs the process-wide log handler: JSON lines for machines, or plain text for people.
    /// `secrets` are values this process was configured with that must never be logged.
    /// `instance`, if given, is on every line (`parley.instance`), so the lines of several
    /// instances behind a balancer can be told apart.
    static func bootstrap(format: AppConfiguration.LogFormat, level: Logger.Level, secrets: [String] = [], instance: String? = nil) {
        let redactor = Redactor(secrets: secrets)
        LoggingSystem.bootstrap({ label, provider in
            var handler = LineLogHandler(label: label, format: format, redactor: redactor)
            handler.logLevel = level
            if let instance { handler[metadataKey: "parley.instance"] = "\(instance)" }
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: RequestContext.metadataProvider)
    }
}
