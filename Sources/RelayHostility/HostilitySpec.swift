/// What a hostile relay does to the pump links it carries: rules, each one behaviour with its
/// rate and its target. Parsed from text by ``init(parsing:)``; the grammar:
///
/// ```
/// SPEC  := GROUP (";" GROUP)*          groups have their own targets
/// GROUP := ITEM ("," ITEM)*            behaviours and the options that target them
/// ```
///
/// | behaviour            | what happens to a selected record                                      |
/// |----------------------|------------------------------------------------------------------------|
/// | `drop[=RATE]`        | it is not sent                                                         |
/// | `delay=TIME[@RATE]`  | it is held TIME (`50ms`, `1s`, `250us`); order is kept                 |
/// | `duplicate[=RATE]`   | it is sent twice                                                       |
/// | `reorder[=RATE]`     | it is held and sent after the next record of its direction             |
/// | `flip[=RATE]`        | one bit of its body flips (never its 5-byte header)                    |
/// | `truncate[=RATE]`    | part of it is sent, then the link is cut                               |
/// | `truncate-at=BYTES`  | the link is cut after BYTES bytes of its direction (not per record)    |
/// | `inject[=RATE]`      | a forged record (its type and length, random body) is sent before it   |
/// | `splice=LINK[@RATE]` | it is sent on pump link LINK's stream instead of its own               |
/// | `replay`             | the link's pump→gateway bytes are recorded; when the link ends they   |
/// |                      | are played to the gateway on a new stream (not per record)             |
///
/// | option                   | targets                                          | default |
/// |--------------------------|--------------------------------------------------|---------|
/// | `link=N`                 | only the N-th pump link the relay accepts (1…)   | every   |
/// | `records=app|handshake|all` | TLS content type 23, 20/22, or every record   | `all`   |
/// | `min-bytes=N`            | only records of N bytes or more, header included | 0       |
/// | `after=K`                | skip the first K matching records of each link   | 0       |
/// | `count=K`                | at most K actions per link and direction         | no cap  |
/// | `dir=up|down|both`       | pump→gateway, gateway→pump, or both              | `up`    |
///
/// RATE is a probability from 0 to 1 (default 1: every selected record). Named specs:
/// `chaos` (a little of every per-record behaviour on every link). Example:
/// `flip=0.01,drop=0.001;delay=50ms,link=2` (the quotes matter in a shell because of `;`).
///
/// Record lengths travel in clear, so a phone can tell a signed command or acknowledgement
/// (about 150 to 200 bytes) from telemetry and its answers (under 100):
/// `drop,dir=up,records=app,min-bytes=120` drops the pump's acknowledgements only.
public struct HostilitySpec: Sendable, Equatable {
    public var rules: [HostilityRule]

    public init(rules: [HostilityRule]) {
        self.rules = rules
    }

    /// The named specs, by name.
    public static let named: [String: String] = [
        "chaos": "drop=0.002,duplicate=0.002,reorder=0.002,flip=0.002,inject=0.002,delay=20ms@0.05,records=app"
    ]
}

/// One behaviour with its rate and target.
public struct HostilityRule: Sendable, Equatable {
    public var behaviour: HostileBehaviour
    /// The chance that a selected record is acted on, 0…1.
    public var rate: Double = 1
    /// `delay`: how long a record is held.
    public var delay: Duration = .zero
    /// `truncate-at`: where the stream is cut, in bytes of its direction.
    public var offset = 0
    /// `splice`: the link whose stream receives the record.
    public var partner = 0
    public var target = HostilityTarget()

    public init(_ behaviour: HostileBehaviour, rate: Double = 1, target: HostilityTarget = HostilityTarget()) {
        self.behaviour = behaviour
        self.rate = rate
        self.target = target
    }
}

/// Which links, directions and records a rule acts on.
public struct HostilityTarget: Sendable, Equatable {
    /// The link's number in the relay's order of acceptance (1…); nil for every link.
    public var link: Int?
    public var records: HostileRecordKind = .all
    /// Only records at least this long (header included).
    public var minimumBytes = 0
    public var after = 0
    public var count: Int?
    public var directions: Set<HostileDirection> = [.up]

    public init(
        link: Int? = nil,
        records: HostileRecordKind = .all,
        minimumBytes: Int = 0,
        after: Int = 0,
        count: Int? = nil,
        directions: Set<HostileDirection> = [.up]
    ) {
        self.link = link
        self.records = records
        self.minimumBytes = minimumBytes
        self.after = after
        self.count = count
        self.directions = directions
    }
}

public enum HostileBehaviour: String, Sendable, CaseIterable, CustomStringConvertible {
    case drop
    case delay
    case duplicate
    case reorder
    case flip
    case truncate
    case truncateAt = "truncate-at"
    case inject
    case splice
    case replay

    public var description: String { self.rawValue }
}

public enum HostileDirection: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Pump → gateway: bytes read from the pump link.
    case up
    /// Gateway → pump: bytes written to the pump link.
    case down

    public var description: String { self.rawValue }
}

/// Which TLS records a rule selects, by the record's content type (visible in clear).
public enum HostileRecordKind: String, Sendable, CaseIterable {
    /// Content type 23: the inner messages, once the handshake is done.
    case app
    /// Content types 20 (change_cipher_spec) and 22 (handshake).
    case handshake
    /// Every record (also bytes that are not TLS records at all).
    case all

    func matches(contentType: UInt8?) -> Bool {
        switch self {
        case .all: return true
        case .app: return contentType == TLSRecordSplitter.applicationData
        case .handshake: return contentType == 22 || contentType == 20
        }
    }
}
