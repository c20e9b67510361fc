#if canImport(Glibc)
import Glibc
#endif

/// Lines for people on standard error (configuration errors, prompts of `parley user`, the
/// chat client's notices), written straight to descriptor 2, not through the log.
enum StandardError {
    static func write(_ message: String) {
        var line = message + "\n"
        line.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
