import TherapyModel
import TunnelProtocol

/// One command of every kind, and envelopes and acknowledgements built from them.
enum CommandSamples {
    static let serial = "PUMP-0001"
    static let issued = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)

    static func schedule<Value>(_ entries: [(Int, Value)]) -> DailySchedule<Value> {
        try! DailySchedule(entries.map { .init(startMinute: $0.0, value: $0.1) })
    }

    static let commands: [PumpCommand] = [
        .change(.setBasalSchedule(schedule([(0, MilliunitsPerHour(800)), (360, MilliunitsPerHour(1_050))]))),
        .change(.tempBasal(rate: MilliunitsPerHour(1_500), durationMinutes: 90)),
        .change(.bolus(Milliunits(2_000))),
        .change(.setMaxBasal(MilliunitsPerHour(3_000))),
        .change(.setMaxBolus(Milliunits(10_000))),
        .change(.setCarbRatios(schedule([(0, CarbRatio(gramsPerUnit: 10)), (660, CarbRatio(gramsPerUnit: 12))]))),
        .change(.setSensitivities(.init(constant: InsulinSensitivity(mgdLPerUnit: 45)))),
        .change(
            .setCorrectionRange(
                schedule([
                    (0, try! CorrectionRange(lower: GlucoseMgdL(100), upper: GlucoseMgdL(120))),
                    (1_410, try! CorrectionRange(lower: GlucoseMgdL(110), upper: GlucoseMgdL(110))),
                ])
            )
        ),
        .change(.setSuspendThreshold(GlucoseMgdL(75))),
        .change(.suspend),
        .change(.resume),
        .lockoutStart(suspendDelivery: false),
        .lockoutStart(suspendDelivery: true),
        .lockoutLift,
    ]

    /// The largest payload there is: 48 correction ranges.
    static let largest = PumpCommand.change(
        .setCorrectionRange(
            schedule(
                (0..<48).map { slot in
                    (slot * 30, try! CorrectionRange(lower: GlucoseMgdL(90), upper: GlucoseMgdL(4_294_967_295)))
                }
            )
        )
    )

    static func envelope(
        _ command: PumpCommand,
        serial: String = serial,
        sequence: UInt64 = 7
    ) -> CommandEnvelope {
        try! CommandEnvelope(serial: serial, sequence: sequence, issuedAt: issued, auditIndex: 41, command: command)
    }

    /// A signed command with a made-up signature (this module does not sign or verify).
    static func signed(_ command: PumpCommand, serial: String = serial) -> SignedCommand {
        try! SignedCommand(envelope(command, serial: serial), signature: (0..<64).map { UInt8($0) })
    }

    static let results: [CommandResult] =
        [
            .applied, .refused(.malformed), .refused(.badSignature), .refused(.wrongSerial),
            .refused(.replayedSequence), .refused(.expired), .refused(.notYetValid), .refused(.lockedOut),
            .refused(.storageFailed),
        ]
        + [
            HardLimitViolation.Code.controlNotSupported, .incrementMismatch, .bolusAbovePumpMaximum,
            .basalAbovePumpMaximum, .bolusAboveMaxBolus, .basalAboveMaxBasal, .maxBasalBelowScheduledBasal,
            .amountNotPositive, .rateNegative, .valueNotPositive, .tempBasalDurationInvalid, .scheduleTooManyEntries,
            .scheduleSegmentTooShort,
        ].map { .refused(.hardLimit($0)) }

    static func acknowledgement(_ result: CommandResult, mode: PumpMode = []) -> SignedAcknowledgement {
        let ack = try! CommandAcknowledgement(
            serial: serial,
            sequence: 7,
            commandDigest: [UInt8](repeating: 0xC0, count: 32),
            result: result,
            mode: mode,
            lastAppliedSequence: 7,
            settingsDigest: [UInt8](repeating: 0x5E, count: 32),
            pumpTime: issued
        )
        return try! SignedAcknowledgement(ack, signature: [UInt8](repeating: 0xA5, count: 64))
    }
}
