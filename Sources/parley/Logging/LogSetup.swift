import ChatAPI
import Logging

enum LogSetup {
    /// Installs the process-wide log handler: JSON lines for machines, or plain text for people.
    /// `secrets` are values this process was configured with that must never be logged.
    static func bootstrap(format: AppConfiguration.LogFormat, level: Logger.Level, secrets: [String] = []) {
        let redactor = Redactor(secrets: secrets)
        LoggingSystem.bootstrap({ label, provider in
            var handler = LineLogHandler(label: label, format: format, redactor: redactor)
            handler.logLevel = level
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: RequestContext.metadataProvider)
    }
}
