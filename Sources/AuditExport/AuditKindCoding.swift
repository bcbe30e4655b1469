public import AuditLog

/// How each MedTunnel audit kind reads as a FHIR R4 `AuditEvent` (IHE BALP): its event type and
/// subtype codings, its action (C R U D E) and its default outcome.
///
/// Standard codes where one fits: the BALP RESTful pattern (`audit-event-type#rest` with a
/// `restful-interaction` subtype) for what the API did to a resource, DICOM `110100`-series event
/// types for authentication, security alerts and audit-log use. Every event also carries the
/// MedTunnel kind itself as a subtype (`urn:medtunnel:audit-kind`), and a kind with no standard
/// code has it as its type too, so no export loses the kind it was recorded as.
public struct AuditKindCoding: Sendable {
    public let type: FHIRCoding
    /// Standard subtypes only; `subtypes(for:)` adds the MedTunnel kind.
    public let standardSubtypes: [FHIRCoding]
    public let action: FHIRAction
    public let outcome: FHIROutcome
    /// A short human label (CSV summary, FHIR outcomeDesc).
    public let label: String

    public static let kindSystem = "urn:medtunnel:audit-kind"

    public func subtypes(for kind: AuditKind) -> [FHIRCoding] {
        self.standardSubtypes + [FHIRCoding(system: Self.kindSystem, code: kind.rawValue, display: nil)]
    }

    /// The coding of `kind`; a kind this table does not know gets its own code, action E, success.
    public static func of(_ kind: AuditKind) -> AuditKindCoding {
        if let known = Self.table[kind.rawValue] { return known }
        return AuditKindCoding(
            type: FHIRCoding(system: Self.kindSystem, code: kind.rawValue, display: nil),
            standardSubtypes: [],
            action: .execute,
            outcome: .success,
            label: kind.rawValue
        )
    }

    /// The outcome of one entry: the kind's, or a failure when its payload says it was refused.
    /// The payload's `outcome`, `decision`, `result`, `state` or `status` naming a refusal makes
    /// a success a minor failure (4): a policy rejection or a pump's refusal is not a success.
    public static func outcome(of exported: ExportedEntry) -> FHIROutcome {
        let base = Self.of(exported.entry.event.kind).outcome
        guard base == .success, let object = exported.payloadJSON() as? [String: Any] else { return base }
        for key in ["outcome", "decision", "result", "state", "status"] {
            if let value = object[key] as? String, Self.refusals.contains(value.lowercased()) { return .minorFailure }
        }
        return base
    }

    static let refusals: Set<String> = [
        "rejected", "reject", "refused", "refused_by_pump", "refusedbypump", "denied", "failed", "failure",
        "expired", "uncertain",
    ]

    // MARK: The table

    private static let dicom = "http://dicom.nema.org/resources/ontology/DCM"
    private static let rest = FHIRCoding(
        system: "http://terminology.hl7.org/CodeSystem/audit-event-type",
        code: "rest",
        display: "Restful Operation"
    )
    private static func dcm(_ code: String, _ display: String) -> FHIRCoding {
        FHIRCoding(system: Self.dicom, code: code, display: display)
    }
    private static func interaction(_ code: String) -> FHIRCoding {
        FHIRCoding(system: "http://hl7.org/fhir/restful-interaction", code: code, display: code)
    }
    private static func own(_ kind: String) -> FHIRCoding {
        FHIRCoding(system: Self.kindSystem, code: kind, display: nil)
    }

    private static let securityAlert = dcm("110113", "Security Alert")
    private static let userAuthentication = dcm("110114", "User Authentication")
    private static let login = dcm("110122", "Login")
    private static let userSecurityChanged = dcm("110137", "User Security Attributes Changed")
    private static let objectSecurityChanged = dcm("110135", "Object Security Attributes Changed")

    private static func entry(
        _ kind: String,
        _ type: FHIRCoding?,
        _ subtypes: [FHIRCoding],
        _ action: FHIRAction,
        _ outcome: FHIROutcome,
        _ label: String
    ) -> (String, AuditKindCoding) {
        (
            kind,
            AuditKindCoding(
                type: type ?? Self.own(kind),
                standardSubtypes: subtypes,
                action: action,
                outcome: outcome,
                label: label
            )
        )
    }

    private static let table: [String: AuditKindCoding] = Dictionary(
        uniqueKeysWithValues: [
            // Setting changes: requests through the API, the policy's decision, people's approvals.
            entry("change.requested", rest, [interaction("create")], .create, .success, "Setting change requested"),
            entry("change.decided", nil, [], .execute, .success, "Safety policy decided a change"),
            entry("change.approved", rest, [interaction("update")], .update, .success, "Change approved"),
            entry("change.cancelled", rest, [interaction("update")], .update, .success, "Change cancelled"),
            entry("change.rejected", rest, [interaction("update")], .update, .minorFailure, "Change rejected"),
            // Commands to pumps: the gateway executes; an expired or uncertain one did not apply.
            entry("command.sent", nil, [], .execute, .success, "Command sent to pump"),
            entry("command.acknowledged", nil, [], .execute, .success, "Pump acknowledged command"),
            entry("command.expired", nil, [], .execute, .seriousFailure, "Command expired undelivered"),
            entry("command.uncertain", nil, [], .execute, .minorFailure, "Command sent, no acknowledgement"),
            entry("command.reconciled", nil, [], .execute, .success, "Uncertain command reconciled"),
            entry("pump.therapy.set", rest, [interaction("update")], .update, .success, "Prescription set"),
            // Pairing: a pump bound to, or released from, a patient.
            entry("pump.paired", rest, [interaction("create")], .create, .success, "Pump paired"),
            entry("pump.unpair_requested", rest, [interaction("update")], .update, .success, "Unpair requested"),
            entry("pump.transfer_requested", rest, [interaction("update")], .update, .success, "Transfer requested"),
            entry("pump.unpaired", rest, [interaction("delete")], .delete, .success, "Pump unpaired"),
            entry("pump.transferred", rest, [interaction("update")], .update, .success, "Pump transferred"),
            // Lockouts are emergency overrides of remote therapy.
            entry(
                "lockout.started",
                securityAlert,
                [dcm("110127", "Emergency Override Started")],
                .execute,
                .success,
                "Lockout started"
            ),
            entry(
                "lockout.lifted",
                securityAlert,
                [dcm("110138", "Emergency Override Stopped")],
                .execute,
                .success,
                "Lockout lifted"
            ),
            entry("lockout.lift_requested", securityAlert, [], .execute, .success, "Lockout lift requested"),
            entry("lockout.sent", securityAlert, [], .execute, .success, "Lockout sent to pump"),
            entry("lockout.acknowledged", securityAlert, [], .execute, .success, "Pump acknowledged lockout"),
            // People and their credentials.
            entry("auth.login", userAuthentication, [login], .execute, .success, "Login"),
            entry("auth.token_revoked", securityAlert, [userSecurityChanged], .update, .success, "Token revoked"),
            entry("account.created", securityAlert, [userSecurityChanged], .create, .success, "Account created"),
            entry("account.disabled", securityAlert, [userSecurityChanged], .update, .success, "Account disabled"),
            entry("account.enabled", securityAlert, [userSecurityChanged], .update, .success, "Account enabled"),
            // The console's passkeys and sessions (DICOM 110114 User Authentication: Login, Logout).
            entry("account.invited", securityAlert, [userSecurityChanged], .create, .success, "Passkey invitation"),
            entry("passkey.registered", securityAlert, [userSecurityChanged], .create, .success, "Passkey registered"),
            entry("console.signin", userAuthentication, [login], .execute, .success, "Console sign-in"),
            entry("console.signin_failed", userAuthentication, [login], .execute, .minorFailure, "Sign-in refused"),
            entry("console.stepup", userAuthentication, [login], .execute, .success, "Console step-up"),
            entry("console.stepup_failed", userAuthentication, [login], .execute, .minorFailure, "Step-up refused"),
            entry("console.signout", userAuthentication, [dcm("110123", "Logout")], .execute, .success, "Sign-out"),
            // Reads of patient data (BALP Read pattern) and refusals of the API.
            entry("access.read", rest, [interaction("read")], .read, .success, "Patient data read"),
            entry(
                "access.denied",
                securityAlert,
                [dcm("110132", "Use of Restricted Function")],
                .execute,
                .minorFailure,
                "Access denied"
            ),
            // Security events, alerts, certificates, configuration.
            entry("security.event", securityAlert, [], .execute, .seriousFailure, "Security event"),
            entry("alert.raised", securityAlert, [], .execute, .seriousFailure, "Alert raised"),
            entry("alert.acknowledged", securityAlert, [], .update, .success, "Alert acknowledged"),
            entry("pki.revoked", securityAlert, [objectSecurityChanged], .update, .success, "Certificate revoked"),
            entry("pki.unrevoked", securityAlert, [objectSecurityChanged], .update, .success, "Revocation lifted"),
            entry(
                "config.changed",
                securityAlert,
                [dcm("110131", "Software Configuration")],
                .update,
                .success,
                "Configuration changed"
            ),
            // The audit log itself.
            entry("audit.export", dcm("110101", "Audit Log Used"), [], .read, .success, "Audit log exported"),
        ]
    )
}
