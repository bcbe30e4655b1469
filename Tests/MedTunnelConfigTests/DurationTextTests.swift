import DurationText
import Testing

@Suite("DurationText: the one duration syntax")
struct DurationTextTests {
    @Test(
        "accepted with units",
        arguments: [
            ("250ms", 250), ("10s", 10_000), ("15m", 900_000), ("12h", 43_200_000), ("2d", 172_800_000), ("1ms", 1),
        ] as [(String, Int64)]
    )
    func accepted(text: String, milliseconds: Int64) {
        #expect(DurationText.milliseconds(text) == milliseconds)
    }

    @Test(
        "refused",
        arguments: ["", "10", "s", "-5s", "1.5s", "10 s", "10sec", "0s", "5x", "99999999999999999999h", "+3s", "１s"]
    )
    func refused(text: String) {
        #expect(DurationText.milliseconds(text) == nil)
    }

    @Test("a bare number only where the option keeps its old unit; zero only where it means never")
    func bareAndZero() {
        #expect(DurationText.milliseconds("50", bare: .milliseconds) == 50)
        #expect(DurationText.milliseconds("5", bare: .seconds) == 5_000)
        #expect(DurationText.milliseconds("0") == nil)
        #expect(DurationText.milliseconds("0", allowsZero: true) == 0)
        #expect(DurationText.milliseconds("0s", allowsZero: true) == 0)
        #expect(DurationText.milliseconds("0", bare: .seconds) == nil)
    }

    @Test("the error names the option, the value and the accepted forms")
    func message() {
        #expect(throws: DurationTextError.self) { try DurationText.option("--idle-timeout", "2 min") }
        let error = DurationTextError(option: "--interval", value: "fast", bare: .milliseconds)
        #expect(
            error.description
                == "--interval 'fast' is not a duration: expected a whole number followed by ms, s, m, h or d (250ms, 10s, 15m, 12h); a bare number is milliseconds, as before"
        )
    }

    @Test("render writes the largest whole unit")
    func render() {
        #expect(DurationText.render(600_000) == "10m")
        #expect(DurationText.render(1_500) == "1500ms")
        #expect(DurationText.render(0) == "0")
    }
}
