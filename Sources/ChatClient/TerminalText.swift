/// Model output made safe to print on a terminal: escape sequences (CSI, OSC, and any other
/// `ESC x`) and control characters are removed, except newlines and tabs, so an answer cannot
/// move the cursor, retitle the window, rewrite the screen or ring the bell.
public enum TerminalText {
    public static func sanitize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar.value {
            case 0x1B:
                skipEscape(&scalars)
            case 0x9B:  // C1 CSI
                skipUntilFinal(&scalars)
            case 0x9D:  // C1 OSC
                skipString(&scalars)
            case 0x0A, 0x09:
                out.append(scalar)
            case 0x00...0x1F, 0x7F, 0x80...0x9F:
                continue
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    private static func skipEscape(_ scalars: inout String.UnicodeScalarView.Iterator) {
        guard let next = scalars.next() else { return }
        switch next {
        case "[": skipUntilFinal(&scalars)
        case "]", "P", "X", "^", "_": skipString(&scalars)
        default: return  // a two-character sequence: both are gone
        }
    }

    /// CSI: parameters and intermediates up to a final byte in 0x40–0x7E.
    private static func skipUntilFinal(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            if (0x40...0x7E).contains(scalar.value) { return }
        }
    }

    /// OSC, DCS and the like: up to BEL or ST (`ESC \`).
    private static func skipString(_ scalars: inout String.UnicodeScalarView.Iterator) {
        while let scalar = scalars.next() {
            if scalar.value == 0x07 || scalar.value == 0x9C { return }
            if scalar.value == 0x1B {
                _ = scalars.next()
                return
            }
        }
    }
}
