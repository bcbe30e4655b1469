public import AuditLog
import AuditTrail
import TherapyJSON

/// One audit entry as one RFC 5424 message:
///
///     <85>1 2026-12-02T10:00:00.123Z gw1 medtunnel - change.requested [medtunnel@32473 index="17"
///     actor="alice" role="patient" pump="PUMP-0001" patient="pat-1"] BOM change.requested by alice ...
///
/// | field           | value                                                                      |
/// |-----------------|----------------------------------------------------------------------------|
/// | PRI             | facility authpriv (10) × 8 + severity: notice (5), warning (4) for the    |
/// |                 | kinds in ``warningKinds``; so `<85>` or `<84>`                             |
/// | VERSION         | `1`                                                                        |
/// | TIMESTAMP       | the entry's own time (not the sending time), UTC, milliseconds, `Z`        |
/// | HOSTNAME        | the gateway's host name (PRINTUSASCII, at most 255), else `-`              |
/// | APP-NAME        | `medtunnel`                                                                |
/// | PROCID          | `-`: a resent entry is byte for byte the message sent before               |
/// | MSGID           | the entry kind, cut at 32 characters (then the SD also has `kind`)         |
/// | STRUCTURED-DATA | one `medtunnel@32473` element: index, actor, role, pump, phone, patient    |
/// | MSG             | UTF-8 BOM, then ``AuditSummary/line(_:)`` with control characters as spaces |
///
/// Never the payload: the summary shows a few short fields from a fixed list (no tokens, no
/// keys), and the patient only when the payload names one in `patientId`.
public enum SyslogMessage {
    /// authpriv: "security/authorization messages" (RFC 5424, table 1), the facility collectors
    /// route to a file only administrators read, as an audit trail naming patients needs.
    public static let facility = 10
    public static let notice = 5
    public static let warning = 4
    /// Kinds an operator should notice sooner: refusals, attacks, lockouts, lost commands.
    public static let warningKinds: Set<String> = [
        "security.event", "access.denied", "alert.raised", "lockout.started", "command.uncertain",
    ]
    public static let appName = "medtunnel"
    /// 32473 is the private enterprise number RFC 5612 reserves for documentation and examples;
    /// an SD-ID with `@` needs one, and MedTunnel has none of its own.
    public static let structuredDataID = "medtunnel@32473"
    /// RFC 5424 MSGID: 1...32 PRINTUSASCII.
    static let maximumMessageIDLength = 32
    static let maximumHostnameLength = 255
    /// The UTF-8 byte order mark that RFC 5424 puts before a MSG in UTF-8.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The RFC 5424 message for `entry`, as sent by host `hostname` (unframed: see ``SyslogFraming``).
    public static func format(_ entry: AuditEntry, hostname: String) -> [UInt8] {
        let event = entry.event
        let kind = event.kind.rawValue
        let severity = Self.warningKinds.contains(kind) ? Self.warning : Self.notice
        var header = "<\(Self.facility * 8 + severity)>1 \(Self.timestamp(event.timeMilliseconds)) "
        header += "\(Self.hostnameField(hostname)) \(Self.appName) - \(kind.prefix(Self.maximumMessageIDLength)) "

        var data = SyslogStructuredData(id: Self.structuredDataID)
        data.append("index", String(entry.index))
        if kind.utf8.count > Self.maximumMessageIDLength { data.append("kind", kind) }
        data.append("actor", event.actor.id)
        data.append("role", event.actor.role)
        if let pump = event.pumpSerial { data.append("pump", pump) }
        if let phone = event.phoneID { data.append("phone", phone) }
        if let patient = AuditSummary.patient(entry) { data.append("patient", patient) }

        let summary = String(
            AuditSummary.line(entry).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }
        )
        return Array(header.utf8) + data.encoded() + [UInt8(ascii: " ")] + Self.byteOrderMark + Array(summary.utf8)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`; NILVALUE for a time outside years 0000...9999, which RFC 5424's
    /// four-digit year cannot hold.
    static func timestamp(_ milliseconds: Int64) -> String {
        let text = ISO8601Time.format(milliseconds: milliseconds)
        return text.utf8.count == 24 ? text : "-"
    }

    /// The host name if it is 1...255 PRINTUSASCII characters, else NILVALUE.
    static func hostnameField(_ hostname: String) -> String {
        let valid =
            (1...Self.maximumHostnameLength).contains(hostname.utf8.count)
            && hostname.utf8.allSatisfy(SyslogStructuredData.isPrintableASCII)
        return valid ? hostname : "-"
    }
}
