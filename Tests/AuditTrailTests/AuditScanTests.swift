import AuditLog
import AuditTrail
import Testing

@Suite("AuditScan: pages in bounded chunks, with cursors")
struct AuditScanTests {
    /// 1,200 entries (past two chunks), appended concurrently so that they group-commit in a few
    /// fsyncs: a third of them on PUMP-0001, the others on PUMP-0002. Returns PUMP-0001's indexes.
    static func log() async throws -> (AuditTrailTestLog, Set<UInt64>) {
        let test = try await AuditTrailTestLog()
        let pumpOne = try await withThrowingTaskGroup(of: (UInt64, Bool).self) { group in
            for number in 0..<1_200 {
                group.addTask {
                    let one = number % 3 == 0
                    return (try await test.append(.changeRequested, pump: one ? "PUMP-0001" : "PUMP-0002"), one)
                }
            }
            var indexes: Set<UInt64> = []
            for try await (index, one) in group where one { indexes.insert(index) }
            return indexes
        }
        return (test, pumpOne)
    }

    static func page(
        _ test: AuditTrailTestLog,
        _ order: AuditScan.Order,
        query: AuditQuery = AuditQuery(),
        limit: Int,
        maximumScanned: UInt64 = AuditScan.maximumScanned
    ) async throws -> AuditScan.Page {
        try await AuditScan.page(
            store: test.log.store,
            size: await test.log.size,
            query: query,
            order: order,
            limit: limit,
            maximumScanned: maximumScanned,
            pumpPatient: { _ in nil }
        )
    }

    @Test("newest first: pages follow each other through 'before' to the start, none missed or repeated")
    func newestFirst() async throws {
        let (test, pumpOne) = try await Self.log()
        var seen: [UInt64] = []
        var before: UInt64?
        repeat {
            let page = try await Self.page(
                test,
                .newestFirst(before: before),
                query: AuditQuery(pump: "PUMP-0001"),
                limit: 150
            )
            seen += page.entries.map(\.index)
            before = page.next
        } while before != nil
        #expect(seen == pumpOne.sorted(by: >))
    }

    @Test("oldest first from 'after'; the last page has no next")
    func oldestFirst() async throws {
        let (test, _) = try await Self.log()
        let first = try await Self.page(test, .oldestFirst(after: 1_000), limit: 150)
        #expect(first.entries.map(\.index) == Array(1_001...1_150))
        #expect(first.next == 1_150)
        let last = try await Self.page(test, .oldestFirst(after: first.next), limit: 150)
        #expect(last.entries.map(\.index) == Array(1_151...1_199))
        #expect(last.next == nil)
    }

    @Test("a limit above 1,000 is capped; a scan out of budget answers a short page and where to go on")
    func bounds() async throws {
        let (test, _) = try await Self.log()
        let capped = try await Self.page(test, .newestFirst(before: nil), limit: 5_000)
        #expect(capped.entries.count == 1_000 && capped.next == 200)
        let budget = try await Self.page(
            test,
            .newestFirst(before: nil),
            query: AuditQuery(pump: "PUMP-NONE"),
            limit: 10,
            maximumScanned: 512
        )
        #expect(budget.entries.isEmpty && budget.next == 1_200 - 512)
    }
}
