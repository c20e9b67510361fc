import Logging

enum LogSetup {
    /// Installs the process-wide log handler: JSON lines for machines, or plain text for people.
    static func bootstrap(format: AppConfiguration.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }
}
