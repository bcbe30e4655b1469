import NIOCore
import RelayHostility
import Testing

@Suite("Hostile relay: the spec, the record splitter and the seeded choices")
struct HostilitySpecTests {
    @Test("a spec with groups: each group's options target only its own behaviours")
    func parsesGroups() throws {
        let spec = try HostilitySpec(
            parsing: "flip=0.01,drop=0.001; delay=50ms@0.5,link=2,dir=both,records=app,after=3,count=4"
        )
        #expect(spec.rules.count == 3)
        #expect(spec.rules[0] == HostilityRule(.flip, rate: 0.01))
        #expect(spec.rules[1] == HostilityRule(.drop, rate: 0.001))
        var delay = HostilityRule(
            .delay,
            rate: 0.5,
            target: HostilityTarget(link: 2, records: .app, after: 3, count: 4, directions: [.up, .down])
        )
        delay.delay = .milliseconds(50)
        #expect(spec.rules[2] == delay)
        let splice = try HostilitySpec(parsing: "splice=3@0.25,truncate-at=120,replay,link=4")
        #expect(splice.rules.map(\.behaviour) == [.splice, .truncateAt, .replay])
        #expect(splice.rules[0].partner == 3 && splice.rules[0].rate == 0.25 && splice.rules[1].offset == 120)
        #expect(splice.rules.allSatisfy { $0.target.link == 4 })
        #expect(try HostilitySpec(parsing: "chaos").rules.count == 6)
    }

    @Test(
        "a bad spec is refused with its code, naming the bad token",
        arguments: [
            ("flp=0.01", HostilitySpecError.Code.unknownItem, "'flp=0.01'"),
            ("flip=2", .badValue, "'flip=2'"),
            ("drop=0.1,delay", .missingValue, "'delay'"),
            ("delay=50", .badValue, "'delay=50'"),
            ("splice=zero", .badValue, "'splice=zero'"),
            ("link=2", .noBehaviour, "'link=2'"),
            ("flip,dir=sideways", .badValue, "'dir=sideways'"),
            ("flip,,drop", .empty, "'flip,,drop'"),
            ("  ", .empty, "empty"),
            ("replay=1", .badValue, "'replay=1'"),
        ]
    )
    func refusesBadSpecs(_ text: String, _ code: HostilitySpecError.Code, _ named: String) {
        #expect {
            _ = try HostilitySpec(parsing: text)
        } throws: { error in
            guard let error = error as? HostilitySpecError else { return false }
            return error.code == code && error.reason.contains(named)
        }
    }

    @Test("records are cut at their headers however the bytes arrive; bytes that are not TLS pass as they come")
    func splitsRecords() {
        let one: [UInt8] = [23, 3, 3, 0, 2, 0xAA, 0xBB]
        let two: [UInt8] = [22, 3, 3, 0, 1, 0xCC]
        var splitter = TLSRecordSplitter()
        let bytes = one + two
        var types: [UInt8?] = []
        for byte in bytes { types += splitter.append(ByteBuffer(bytes: [byte])).map(\.contentType) }
        #expect(types == [23, 22])
        #expect(splitter.heldBytes == 0)

        var garbage = TLSRecordSplitter()
        let out = garbage.append(ByteBuffer(bytes: [0x47, 0x45, 0x54, 0x20, 0x2F, 0x20]))
        #expect(out.count == 1 && out[0].contentType == nil && out[0].bytes.readableBytes == 6)
        #expect(garbage.append(ByteBuffer(bytes: one)).map(\.contentType) == [nil])
    }

    /// The bytes that leave a machine fed `records` application-data records one by one.
    func run(_ spec: String, seed: UInt64, records: Int = 400) throws -> [[UInt8]] {
        var machine = HostileStreamStateMachine(
            rules: try HostilitySpec(parsing: spec).rules,
            link: 1,
            direction: .up,
            seed: seed
        )
        var sent: [[UInt8]] = []
        for index in 0..<records {
            let record: [UInt8] = [23, 3, 3, 0, 4, UInt8(index & 0xFF), UInt8(index >> 8), 0, 0]
            for output in machine.received(ByteBuffer(bytes: record), now: .now()).outputs {
                if case .send(let bytes, _) = output { sent.append(Array(bytes.readableBytesView)) }
            }
        }
        return sent
    }

    @Test("the same seed repeats a run exactly; another seed differs; rates hold roughly")
    func seededChoices() throws {
        let spec = "drop=0.1,duplicate=0.1,flip=0.1,reorder=0.05,inject=0.05"
        let first = try self.run(spec, seed: 42)
        #expect(try self.run(spec, seed: 42) == first)
        #expect(try self.run(spec, seed: 43) != first)
        let dropped = try self.run("drop=0.25", seed: 7, records: 4_000)
        #expect((2_800...3_200).contains(dropped.count), "\(dropped.count) of 4000 kept at drop=0.25")
        #expect(try self.run("drop=0", seed: 7, records: 100).count == 100)
    }

    @Test("targets: after skips, count caps, link and direction select")
    func targets() throws {
        let sent = try self.run("drop,after=2,count=3", seed: 1, records: 10)
        #expect(sent.map { $0[5] } == [0, 1, 5, 6, 7, 8, 9])
        #expect(try self.run("drop,link=2", seed: 1, records: 10).count == 10)
        #expect(try self.run("drop,dir=down", seed: 1, records: 10).count == 10)
        #expect(try self.run("drop,records=handshake", seed: 1, records: 10).count == 10)
        // A flip changes one bit of the body, never the header.
        let flipped = try self.run("flip,count=1", seed: 9, records: 1)
        let original: [UInt8] = [23, 3, 3, 0, 4, 0, 0, 0, 0]
        #expect(flipped.count == 1 && flipped[0].prefix(5) == original.prefix(5))
        let bits = zip(flipped[0], original).map { ($0 ^ $1).nonzeroBitCount }.reduce(0, +)
        #expect(bits == 1)
        // reorder: record 0 leaves after record 1.
        #expect(try self.run("reorder,count=1", seed: 1, records: 3).map { $0[5] } == [1, 0, 2])
    }

    @Test("min-bytes selects records by their length in clear: a command, not the telemetry answers around it")
    func targetsBySize() throws {
        #expect(
            try HostilitySpec(parsing: "drop,dir=up,records=app,min-bytes=120").rules[0].target
                == HostilityTarget(records: .app, minimumBytes: 120, directions: [.up])
        )
        var machine = HostileStreamStateMachine(
            rules: try HostilitySpec(parsing: "drop,records=app,min-bytes=10").rules,
            link: 1,
            direction: .up,
            seed: 1
        )
        // 9, 10 and 11 bytes long, header included: the last two are dropped.
        var sent: [Int] = []
        for length in [9, 10, 11, 9] {
            let record: [UInt8] = [23, 3, 3, 0, UInt8(length - 5)] + [UInt8](repeating: 0, count: length - 5)
            for output in machine.received(ByteBuffer(bytes: record), now: .now()).outputs {
                if case .send(let bytes, _) = output { sent.append(bytes.readableBytes) }
            }
        }
        #expect(sent == [9, 9])
        #expect {
            _ = try HostilitySpec(parsing: "drop,min-bytes=big")
        } throws: { error in
            (error as? HostilitySpecError)?.code == .badValue
                && (error as? HostilitySpecError)?.reason.contains("'min-bytes=big'") == true
        }
    }
}
