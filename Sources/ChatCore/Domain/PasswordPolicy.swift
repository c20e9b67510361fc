/// What a password must be: 8 to 128 characters (OWASP ASVS 2.1). Nothing about character
/// classes: length is what makes a password strong, and composition rules make it worse.
public enum PasswordPolicy {
    public static let minimumLength = 8
    public static let maximumLength = 128

    public static func validate(_ password: String, field: String = "password") throws(DomainError) {
        let count = password.count
        guard count >= minimumLength else {
            throw .validation([FieldError(field, "must be at least \(minimumLength) characters")])
        }
        guard count <= maximumLength else {
            throw .validation([FieldError(field, "must be at most \(maximumLength) characters")])
        }
    }
}
