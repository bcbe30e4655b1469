extension AuditKind {
    // MARK: The web console's sign-in (passkeys, docs/console-auth.md). Payloads hold the user,
    // error codes and references, never a token, a challenge or a key.

    /// An admin made a one-time invitation for a user to register a passkey (`medtunnel user invite`).
    public static let accountInvited = AuditKind(known: "account.invited")
    /// A user registered a passkey through an invitation.
    public static let passkeyRegistered = AuditKind(known: "passkey.registered")
    /// A user signed in to the console with a passkey.
    public static let consoleSignIn = AuditKind(known: "console.signin")
    /// A sign-in or registration was refused; the payload's `reason` is the error code.
    public static let consoleSignInFailed = AuditKind(known: "console.signin_failed")
    /// A signed-in user confirmed with their passkey again before a risky action.
    public static let consoleStepUp = AuditKind(known: "console.stepup")
    /// A step-up was refused; the payload's `reason` is the error code.
    public static let consoleStepUpFailed = AuditKind(known: "console.stepup_failed")
    /// A user signed out of the console (or their session ended because the account was disabled).
    public static let consoleSignOut = AuditKind(known: "console.signout")

    static let consoleKinds: [AuditKind] = [
        .accountInvited, .passkeyRegistered, .consoleSignIn, .consoleSignInFailed, .consoleStepUp,
        .consoleStepUpFailed, .consoleSignOut,
    ]
}
