import Logging

enum LogSetup {
    /// Installs the process-wide log handler: JSON lines for machines, or plain text for people.
    static func bootstrap(format: AppConfiguration.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .json: handler = JSONLogHandler(label: label)
            case .text: handler = TextLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}
