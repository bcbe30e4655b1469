import Foundation
import MedTunnelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// contrib/systemd's units: verified by systemd itself, and the gateway's sd_notify protocol
/// (READY=1 once bound, STOPPING=1 at SIGTERM) against a socket standing in for systemd.
@Suite("systemd units and sd_notify", .offThePool)
struct SystemdUnitTests {
    static let contrib = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("contrib/systemd")

    @Test(
        "systemd-analyze verify prints nothing for the units (ExecStart: the built binary)",
        arguments: ["medtunnel-gateway.service", "medtunnel-witness.service"]
    )
    func verify(unit: String) throws {
        let tmp = try TemporaryDirectory()
        let text = try String(contentsOf: Self.contrib.appendingPathComponent(unit), encoding: .utf8)
        for directive in [
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
            "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service", "SystemCallArchitectures=native", "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes", "Restart=on-failure", "ReadWritePaths=/var/lib/",
            "ExecStart=/usr/local/bin/medtunnel ",
        ] {
            #expect(text.contains(directive), "\(unit) lacks \(directive)")
        }
        let copy = tmp.sub(unit)
        try text.replacingOccurrences(of: "/usr/local/bin/medtunnel", with: ProcessHarness.medtunnel)
            .write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try ProcessHarness.run("/usr/bin/systemd-analyze", ["verify", copy])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty && result.stderr.isEmpty, "systemd-analyze: \(result.stdout)\(result.stderr)")
    }

    @Test("the gateway from a config file and the environment says READY=1 when bound, STOPPING=1 at SIGTERM")
    func notify() throws {
        let tmp = try TemporaryDirectory()
        let pki = tmp.sub("pki")
        #expect(try ProcessHarness.medtunnel(["pki", "init", "--dir", pki]).status == 0)
        let config = tmp.sub("gateway.json")
        try """
        {
          "pki": "\(pki)/gateway",
          "state-dir": "\(tmp.sub("state"))",
          "pump-listen": "127.0.0.1:0",
          "checkpoint-interval": "1h"
        }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        // The socket systemd would hold.
        let socketPath = tmp.sub("notify.sock")
        let listener = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(listener, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        }

        let gateway = try BackgroundProcess(
            ProcessHarness.medtunnel,
            ["gateway", "--config", config],
            in: tmp.url,
            name: "gateway",
            environment: ["NOTIFY_SOCKET": socketPath, "MEDTUNNEL_GATEWAY_API_LISTEN": "127.0.0.1:0"]
        )
        defer { gateway.stop() }
        #expect(receive() == "READY=1", "\(gateway.stderr)")
        // Ready means bound: the listeners' lines are already out.
        #expect(gateway.stdout.contains("listening for pumps on 127.0.0.1:"))
        #expect(gateway.stdout.contains("operator API on http://127.0.0.1:"))
        gateway.stop()
        #expect(receive() == "STOPPING=1", "\(gateway.stderr)")
    }
}
