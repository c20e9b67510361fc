public import FoundationEssentials

/// What a user searches their messages for: words and "quoted phrases", every one of which a
/// message must hold. Parsed here once, so each database builds its own query language from
/// plain terms and no user text is ever read as an operator.
public struct SearchQuery: Sendable, Equatable {
    /// Words and phrases as the user typed them, each with at least one letter or digit.
    public let terms: [String]

    public static let maxLength = 200
    public static let maxTerms = 16

    public init(terms: [String]) {
        self.terms = terms
    }

    /// `q` as given: words separated by white space, phrases between double quotes (an
    /// unclosed quote runs to the end). Terms without a letter or digit are dropped.
    public static func parse(_ q: String) throws(DomainError) -> SearchQuery {
        guard q.count <= maxLength else { throw .validation([FieldError("q", "must be at most \(maxLength) characters")]) }
        var terms: [String] = []
        var current = ""
        var inPhrase = false
        func flush() {
            let term = current.trimmingWhiteSpace()
            if term.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) {
                terms.append(term)
            }
            current = ""
        }
        for character in q {
            if character == "\"" {
                flush()
                inPhrase.toggle()
            } else if character.isWhitespace, !inPhrase {
                flush()
            } else {
                current.append(character)
            }
        }
        flush()
        guard !terms.isEmpty else { throw .validation([FieldError("q", "must hold a word to search for")]) }
        guard terms.count <= maxTerms else { throw .validation([FieldError("q", "must hold at most \(maxTerms) words or phrases")]) }
        return SearchQuery(terms: terms)
    }
}

/// A message that matched a search, with where it is and an excerpt around the match.
public struct SearchHit: Sendable, Equatable {
    public let messageID: Message.ID
    public let sessionID: ChatSession.ID
    public let sessionTitle: String
    public let role: Message.Role
    public let snippet: String
    public let createdAt: Date

    public init(messageID: Message.ID, sessionID: ChatSession.ID, sessionTitle: String, role: Message.Role, snippet: String, createdAt: Date) {
        self.messageID = messageID
        self.sessionID = sessionID
        self.sessionTitle = sessionTitle
        self.role = role
        self.snippet = snippet
        self.createdAt = createdAt
    }
}
