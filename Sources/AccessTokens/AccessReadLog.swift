public import AuditLog
import Foundation
public import Logging
public import ServiceLifecycle

/// Who read patient data through the API, written to the audit log as `access.read` entries,
/// batched: reads are gathered in memory and written every `interval` (and when the API shuts
/// down) as one entry per reader, so a dashboard polling every few seconds costs one audit
/// append (one fsync) per interval, not one per request.
///
/// One entry's payload:
///
///     {"schema":"medtunnel.access-read.v1","from":MS,"to":MS,"tokens":["jti",…],
///      "reads":[{"route":"GET /v1/pumps/{serial}","pumps":["PUMP-0001"],"count":12,
///                "first":MS,"last":MS}, …]}
///
/// `pumps` lists the pumps whose data was answered (`"all"` for a reviewer's unfiltered list is
/// written as `allPumps: true` instead). Memory is bounded: past `maximumKeys` distinct
/// (reader, route) pairs, or `maximumPumpsPerRead` serials in one, it writes early.
///
/// Reads gathered but not yet written are lost if the process is killed (SIGKILL, power loss):
/// at most one interval's worth. A graceful stop writes them.
public actor AccessReadLog: Service {
    public static let defaultInterval = Duration.seconds(5)
    static let maximumKeys = 10_000
    static let maximumPumpsPerRead = 1_000

    struct Key: Hashable {
        let reader: String
        let role: String
        let route: String
    }

    struct Reads {
        var pumps: Set<String> = []
        var allPumps = false
        var count = 0
        var first: Int64
        var last: Int64
        var tokens: Set<String> = []
    }

    /// The log reads are recorded in (the operator API also exports it).
    public nonisolated let audit: AuditLog
    private let interval: Duration
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private var gathered: [Key: Reads] = [:]
    private var oversized = false

    public init(
        audit: AuditLog,
        interval: Duration = AccessReadLog.defaultInterval,
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = AccessReadLog.wallClock
    ) {
        self.audit = audit
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    public static let wallClock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Notes one read: `pumps` are the serials answered; `allPumps` for an unfiltered list.
    public func record(
        reader: String,
        role: String,
        tokenID: String,
        route: String,
        pumps: some Sequence<String> & Sendable,
        allPumps: Bool = false
    ) async {
        let now = clock()
        let key = Key(reader: reader, role: role, route: route)
        var reads = gathered[key] ?? Reads(first: now, last: now)
        reads.count += 1
        reads.last = now
        reads.tokens.insert(tokenID)
        reads.allPumps = reads.allPumps || allPumps
        if !reads.allPumps {
            for serial in pumps { reads.pumps.insert(serial) }
        }
        if reads.pumps.count > Self.maximumPumpsPerRead { oversized = true }
        gathered[key] = reads
        if oversized || gathered.count >= Self.maximumKeys {
            await flush()
        }
    }

    /// Writes everything gathered: one `access.read` entry per reader. Entries that cannot be
    /// written are logged and dropped (the API keeps answering; the failure is in the gateway's
    /// log and the audit log's own failure state).
    public func flush() async {
        guard !gathered.isEmpty else { return }
        let batch = gathered
        gathered = [:]
        oversized = false
        var byReader: [String: (role: String, reads: [(Key, Reads)])] = [:]
        for (key, reads) in batch {
            byReader[key.reader, default: (key.role, [])].reads.append((key, reads))
        }
        await withTaskGroup(of: Void.self) { group in
            for (reader, entry) in byReader {
                group.addTask { await self.write(reader: reader, role: entry.role, reads: entry.reads) }
            }
        }
    }

    private func write(reader: String, role: String, reads: [(Key, Reads)]) async {
        do {
            let sorted = reads.sorted { $0.0.route < $1.0.route }
            let payload = AccessReadRecord(
                from: sorted.map(\.1.first).min() ?? 0,
                to: sorted.map(\.1.last).max() ?? 0,
                tokens: Set(sorted.flatMap(\.1.tokens)).sorted(),
                reads: sorted.map { key, reads in
                    AccessReadRecord.Read(
                        route: key.route,
                        pumps: reads.allPumps ? nil : reads.pumps.sorted(),
                        allPumps: reads.allPumps ? true : nil,
                        count: reads.count,
                        first: reads.first,
                        last: reads.last
                    )
                }
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let pumps = Set(sorted.flatMap(\.1.pumps))
            _ = try await audit.append(
                try AuditEvent(
                    timeMilliseconds: payload.to,
                    actor: try AuditActor(id: reader, role: role),
                    kind: .accessRead,
                    pumpSerial: pumps.count == 1 ? pumps.first : nil,
                    payload: Array(try encoder.encode(payload))
                )
            )
        } catch {
            logger.error("access.read not audited", metadata: ["reader": "\(reader)", "error": "\(error)"])
        }
    }

    /// Writes every `interval` until the service is asked to stop, then writes what is left.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flush()
            }
        }
        await flush()
    }
}

/// The payload of an `access.read` entry (see ``AccessReadLog``).
struct AccessReadRecord: Codable, Equatable {
    struct Read: Codable, Equatable {
        let route: String
        let pumps: [String]?
        let allPumps: Bool?
        let count: Int
        let first: Int64
        let last: Int64
    }

    var schema = "medtunnel.access-read.v1"
    let from: Int64
    let to: Int64
    let tokens: [String]
    let reads: [Read]
}
