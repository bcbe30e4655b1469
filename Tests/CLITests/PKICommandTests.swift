import AuditLog
import Foundation
import MedTunnelTestSupport
import SQLiteStore
import Testing

@Suite("medtunnel pki", .offThePool)
struct PKICommandTests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test(
        "init writes PKI/ca (CA key 0600) and PKI/gateway (no CA key; gateway and command keys 0600), and never overwrites a CA without --force"
    )
    func initialize() throws {
        let tmp = try TemporaryDirectory()
        let dir = tmp.sub("pki")
        let first = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("--pki \(dir)/gateway"), "\(first.stdout)")
        for file in ["ca/ca.pem", "ca/ca.key", "gateway/ca.pem", "gateway/gateway.pem", "gateway/gateway.key"]
            + ["gateway/command.key", "gateway/command.pem"]
        {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(file)"), "\(file)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/gateway/ca.key"))
        #expect(try self.mode("\(dir)/ca/ca.key") == 0o600)
        #expect(try self.mode("\(dir)/gateway/gateway.key") == 0o600)
        #expect(try self.mode("\(dir)/gateway/command.key") == 0o600)
        let caBefore = try String(contentsOfFile: "\(dir)/ca/ca.pem", encoding: .utf8)
        #expect(try String(contentsOfFile: "\(dir)/gateway/ca.pem", encoding: .utf8) == caBefore)

        let again = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir])
        #expect(again.status != 0)
        #expect(again.stderr.contains("--force"))
        #expect(try String(contentsOfFile: "\(dir)/ca/ca.pem", encoding: .utf8) == caBefore)

        let forced = try ProcessHarness.medtunnel(["pki", "init", "--dir", dir, "--force"])
        #expect(forced.status == 0)
        #expect(try String(contentsOfFile: "\(dir)/ca/ca.pem", encoding: .utf8) != caBefore)
    }

    @Test("init, sign-pump and revoke with --ca-dir and --gateway-dir keep the two folders apart")
    func initializeApart() throws {
        let tmp = try TemporaryDirectory()
        let ca = tmp.sub("offline-ca")
        let gateway = tmp.sub("gw")
        let result = try ProcessHarness.medtunnel(["pki", "init", "--ca-dir", ca, "--gateway-dir", gateway])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: ca + "/ca.key"))
        #expect(FileManager.default.fileExists(atPath: gateway + "/command.key"))
        #expect(!FileManager.default.fileExists(atPath: gateway + "/ca.key"))

        let pump = tmp.sub("pump")
        let steps = [
            ["pump-sim", "--state-dir", pump, "--serial", "PUMP-0001", "--csr", tmp.sub("p.csr")],
            [
                "pki", "sign-pump", "--ca-dir", ca, "--gateway-dir", gateway, "--csr", tmp.sub("p.csr"), "--model",
                "M", "--firmware", "1", "--out", tmp.sub("p.pem"),
            ],
            [
                "pump-sim", "--state-dir", pump, "--serial", "PUMP-0001", "--install", tmp.sub("p.pem"), "--trust",
                gateway,
            ],
            ["audit", "append", "--state-dir", tmp.sub("state"), "--kind", "config.changed", "--actor", "setup"],
            [
                "pki", "revoke", "--gateway-dir", gateway, "--serial", "PUMP-0001", "--reason", "lost", "--by", "carol",
                "--state-dir", tmp.sub("state"),
            ],
        ]
        for arguments in steps {
            let step = try ProcessHarness.medtunnel(arguments)
            #expect(step.status == 0, "\(arguments): \(step.stderr)")
        }
        #expect(FileManager.default.fileExists(atPath: ca + "/enrolled/pumps/PUMP-0001.pem"))
        #expect(FileManager.default.fileExists(atPath: gateway + "/pumps/PUMP-0001.pem"))
        #expect(try String(contentsOfFile: gateway + "/revoked.txt", encoding: .utf8).contains("PUMP-0001"))
        let missing = try ProcessHarness.medtunnel(["pki", "sign-phone", "--csr", tmp.sub("p.csr")])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("give --dir PKI"), "\(missing.stderr)")
    }

    @Test("the removed issue-pump and issue-phone fail, pointing to the CSR flow")
    func issueRemoved() throws {
        let pump = try ProcessHarness.medtunnel(["pki", "issue-pump", "--dir", "x", "--serial", "PUMP-0001"])
        #expect(pump.status != 0)
        #expect(pump.stderr.contains("pki issue-pump is gone"), "\(pump.stderr)")
        #expect(pump.stderr.contains("pki sign-pump"))
        let phone = try ProcessHarness.medtunnel(["pki", "issue-phone", "--dir", "x", "--id", "PHONE-1"])
        #expect(phone.status != 0)
        #expect(phone.stderr.contains("pki sign-phone"), "\(phone.stderr)")
        let sim = try ProcessHarness.medtunnel([
            "pump-sim", "--pki", "x", "--issue", "--serial", "P", "--connect", "127.0.0.1:1", "--state-dir", "y",
        ])
        #expect(sim.status != 0)
        #expect(sim.stderr.contains("no longer takes --pki or --issue"), "\(sim.stderr)")
    }

    @Test("a certificate request that cannot be read is named with the system's reason, not Foundation's")
    func unreadableRequest() throws {
        let tmp = try TemporaryDirectory()
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", tmp.sub("pki")]).status == 0)
        for (csr, reason) in [
            (tmp.sub("missing.csr"), "No such file or directory"), (tmp.url.path, "it is a directory"),
        ] {
            let run = try ProcessHarness.medtunnel([
                "pki", "sign-pump", "--dir", tmp.sub("pki"), "--csr", csr, "--model", "X", "--firmware", "1",
            ])
            #expect(run.status != 0)
            #expect(run.stderr.contains("cannot read the certificate request \(csr): \(reason)"), "\(run.stderr)")
            #expect(!run.stderr.contains("could not be completed"))
        }
    }

    // MARK: revoke and unrevoke

    /// A PKI with PUMP-0001 and PHONE-1, and a state directory whose audit log has one entry.
    struct RevocationBed {
        let tmp: TemporaryDirectory
        let pki: String
        let state: String

        init() throws {
            self.tmp = try TemporaryDirectory()
            self.pki = self.tmp.sub("pki")
            self.state = self.tmp.sub("state")
            for arguments in [
                ["pki", "init", "--dir", self.pki],
                ["audit", "append", "--state-dir", self.state, "--kind", "config.changed", "--actor", "setup"],
            ] {
                let result = try ProcessHarness.medtunnel(arguments)
                try #require(result.status == 0, "\(arguments): \(result.stderr)")
            }
            try ProcessHarness.enrollPump("PUMP-0001", pki: self.pki, stateDir: self.tmp.sub("pump"))
            try ProcessHarness.enrollPhone("PHONE-1", pki: self.pki, stateDir: self.tmp.sub("phone"))
        }

        /// The gateway folder, where revoked.txt and the device certificates are.
        var gateway: String { self.pki + "/gateway" }

        /// `medtunnel pki revoke|unrevoke --dir PKI IDENTITY --reason … --by … --state-dir …`.
        func pki(
            _ command: String,
            _ identity: [String],
            reason: String = "reported stolen",
            by: String = "carol",
            stateDirectory: String? = nil
        ) throws -> ProcessHarness.Result {
            try ProcessHarness.medtunnel(
                ["pki", command, "--dir", self.pki] + identity
                    + ["--reason", reason, "--by", by, "--state-dir", stateDirectory ?? self.state]
            )
        }

        /// The lines of revoked.txt; nil when there is none.
        func revokedLines() throws -> [String]? {
            let path = "\(self.gateway)/revoked.txt"
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }

        /// Every entry of the audit log, in order.
        func auditEntries() async throws -> [AuditEntry] {
            let store = try await AuditStateDirectory(path: self.state).openStore(create: false)
            return try await store.entries(in: 0..<(try await store.size())).map {
                try AuditEntry(decoding: $0.body, context: "entry \($0.index)")
            }
        }

        /// The audit payload as the JSON object it is.
        func payload(_ entry: AuditEntry) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(entry.event.payload)) as? [String: Any])
        }
    }

    @Test("revoke appends pki.revoked to the audit log (actor, role incident, pump, payload), then writes revoked.txt")
    func revokeIsAudited() async throws {
        let bed = try RevocationBed()
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let result = try bed.pki("revoke", ["--serial", "PUMP-0001"], reason: " reported stolen ")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("revoked pump PUMP-0001 (audit entry 1)"), "\(result.stdout)")
        let entries = try await bed.auditEntries()
        #expect(entries.count == 2)
        let event = try #require(entries.last?.event)
        #expect(event.kind == .pkiRevoked)
        #expect(event.kind.rawValue == "pki.revoked")
        #expect(event.actor == (try AuditActor(id: "carol", role: "incident")))
        #expect(event.pumpSerial == "PUMP-0001")
        #expect(event.phoneID == nil)
        let at = try #require((try bed.payload(entries[1])["at"] as? NSNumber)?.int64Value)
        #expect(at >= before && at == event.timeMilliseconds)
        #expect(
            String(decoding: event.payload, as: UTF8.self)
                == #"{"at":\#(at),"identity":"urn:medtunnel:pump:PUMP-0001","op":"revoke","reason":"reported stolen","schema":"medtunnel.pki.v1"}"#
        )
        #expect(try bed.revokedLines() == ["urn:medtunnel:pump:PUMP-0001\t\(at / 1000)\treported stolen"])
        #expect(try ProcessHarness.medtunnel(["audit", "verify", "--state-dir", bed.state]).status == 0)
    }

    @Test("revoking a phone records its phone id; revoking twice keeps one line and one entry, and says since when")
    func revokeTwice() async throws {
        let bed = try RevocationBed()
        #expect(try bed.pki("revoke", ["--phone-id", "PHONE-1"], reason: "lost phone").status == 0)
        let again = try bed.pki("revoke", ["--phone-id", "PHONE-1"], reason: "lost phone, again")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("phone PHONE-1 already revoked since 20"), "\(again.stdout)")
        #expect(again.stdout.contains("(lost phone); nothing changed"))
        #expect(try bed.revokedLines()?.count == 1)
        let revocations = try await bed.auditEntries().filter { $0.event.kind == .pkiRevoked }
        #expect(revocations.count == 1)
        #expect(revocations.first?.event.phoneID == "PHONE-1")
        #expect(revocations.first?.event.pumpSerial == nil)
        #expect(try revocations.first.map(bed.payload)?["identity"] as? String == "urn:medtunnel:phone:PHONE-1")
    }

    @Test(
        "a serial the PKI never enrolled is refused with exit 1, naming it, the PKI and sign-pump; nothing is written"
    )
    func revokeUnknownSerial() async throws {
        let bed = try RevocationBed()
        let result = try bed.pki("revoke", ["--serial", "PUMP-0010"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("pki revoke: pump PUMP-0010 has no certificate from the PKI in \(bed.gateway)"),
            "\(result.stderr)"
        )
        #expect(result.stderr.contains("nothing was revoked"))
        #expect(result.stderr.contains("`medtunnel pki sign-pump --csr FILE --model NAME --firmware VERSION`"))
        #expect(try bed.revokedLines() == nil)
        #expect(try await bed.auditEntries().count == 1)
    }

    @Test("a phone id the PKI never enrolled is refused, suggesting sign-phone")
    func revokeUnknownPhone() async throws {
        let bed = try RevocationBed()
        let result = try bed.pki("revoke", ["--phone-id", "PHONE-7"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("phone PHONE-7 has no certificate"), "\(result.stderr)")
        #expect(result.stderr.contains("medtunnel pki sign-phone --csr FILE"))
        #expect(try bed.revokedLines() == nil)
        #expect(try await bed.auditEntries().count == 1)
    }

    @Test("an empty --reason or --by is refused before anything is written")
    func revokeEmptyReasonOrActor() async throws {
        let bed = try RevocationBed()
        for command in ["revoke", "unrevoke"] {
            let noReason = try bed.pki(command, ["--serial", "PUMP-0001"], reason: "  ")
            #expect(noReason.status == 64)
            #expect(noReason.stderr.contains("--reason is empty: say why"), "\(noReason.stderr)")
            let noActor = try bed.pki(command, ["--serial", "PUMP-0001"], by: "")
            #expect(noActor.status == 64)
            #expect(noActor.stderr.contains("--by '': name who decides"), "\(noActor.stderr)")
        }
        let missing = try ProcessHarness.medtunnel(["pki", "revoke", "--dir", bed.pki, "--serial", "PUMP-0001"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Missing expected argument '--reason <reason>'"), "\(missing.stderr)")
        #expect(try bed.revokedLines() == nil)
        #expect(try await bed.auditEntries().count == 1)
    }

    @Test("a --state-dir without an audit log is refused, naming it, and is not created; nothing is revoked")
    func revokeStateDirectoryTypo() async throws {
        let bed = try RevocationBed()
        let typo = bed.tmp.sub("stat")
        let result = try bed.pki("revoke", ["--serial", "PUMP-0001"], stateDirectory: typo)
        #expect(result.status == 2)
        #expect(
            result.stderr.contains(
                "pki revoke: --state-dir: \(typo) does not exist: give the gateway's state directory"
            ),
            "\(result.stderr)"
        )
        #expect(result.stderr.contains("nothing was revoked"))
        #expect(!FileManager.default.fileExists(atPath: typo))
        // An existing directory that is not a state directory gets no audit.sqlite either.
        let unrevoke = try bed.pki("unrevoke", ["--serial", "PUMP-0001"], stateDirectory: bed.pki)
        #expect(unrevoke.status == 2)
        #expect(
            unrevoke.stderr.contains("\(bed.pki) holds no audit log (no \(bed.pki)/audit.sqlite)"),
            "\(unrevoke.stderr)"
        )
        #expect(!FileManager.default.fileExists(atPath: "\(bed.pki)/audit.sqlite"))
        #expect(try bed.revokedLines() == nil)
    }

    @Test("when the audit log cannot take the entry, nothing is revoked and the error says why")
    func revokeAuditFailure() async throws {
        let bed = try RevocationBed()
        // The log opens, but refuses every new entry (permissions would not stop root).
        try SQLiteConnection(path: "\(bed.state)/audit.sqlite", create: false).execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON entry BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;"
        )
        let result = try bed.pki("revoke", ["--serial", "PUMP-0001"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("pki revoke: audit log: "), "\(result.stderr)")
        #expect(result.stderr.contains("disk full (test)"))
        #expect(result.stderr.contains("; nothing was revoked"))
        #expect(try bed.revokedLines() == nil)
        #expect(try await bed.auditEntries().count == 1)
    }

    @Test("unrevoke removes the line and is audited as pki.unrevoked first; revoked.txt keeps the other lines")
    func unrevoke() async throws {
        let bed = try RevocationBed()
        #expect(try bed.pki("revoke", ["--serial", "PUMP-0001"]).status == 0)
        #expect(try bed.pki("revoke", ["--phone-id", "PHONE-1"], reason: "lost phone").status == 0)
        let result = try bed.pki("unrevoke", ["--serial", "PUMP-0001"], reason: "found in the clinic", by: "dave")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("unrevoked pump PUMP-0001, revoked since 20"), "\(result.stdout)")
        #expect(result.stdout.contains("(reported stolen) (audit entry 3): it may connect again"))
        let lines = try #require(try bed.revokedLines())
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("urn:medtunnel:phone:PHONE-1\t") == true)
        let entries = try await bed.auditEntries()
        #expect(
            entries.map(\.event.kind.rawValue) == ["config.changed", "pki.revoked", "pki.revoked", "pki.unrevoked"]
        )
        let event = try #require(entries.last?.event)
        #expect(event.actor == (try AuditActor(id: "dave", role: "incident")))
        #expect(event.pumpSerial == "PUMP-0001")
        let payload = try bed.payload(entries[3])
        #expect(payload["op"] as? String == "unrevoke")
        #expect(payload["reason"] as? String == "found in the clinic")
        #expect(payload["identity"] as? String == "urn:medtunnel:pump:PUMP-0001")
        #expect(payload["schema"] as? String == "medtunnel.pki.v1")
        // The show command lists it by kind.
        let show = try ProcessHarness.medtunnel([
            "audit", "show", "--state-dir", bed.state, "--kind", "pki.unrevoked", "--format", "jsonl",
        ])
        #expect(show.stdout.split(separator: "\n").count == 1)
        #expect(show.stdout.contains(#""actor":{"id":"dave","role":"incident"}"#), "\(show.stdout)")
    }

    @Test("unrevoking a serial that is not revoked is refused with exit 1, naming it; nothing is audited")
    func unrevokeNotRevoked() async throws {
        let bed = try RevocationBed()
        let result = try bed.pki("unrevoke", ["--serial", "PUMP-0001"], reason: "found")
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("pki unrevoke: pump PUMP-0001 is not revoked in \(bed.gateway)"),
            "\(result.stderr)"
        )
        #expect(result.stderr.contains("nothing to unrevoke"))
        #expect(try await bed.auditEntries().count == 1)
        #expect(try bed.revokedLines() == nil)
    }
}
