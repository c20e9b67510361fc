import ChatAPI
import Logging

enum LogSetup {
    /// Installs the process-wide log handler: JSON lines for machines, or plain text for people.
    static func bootstrap(format: AppConfiguration.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap({ label, provider in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: RequestContext.metadataProvider)
    }
}
