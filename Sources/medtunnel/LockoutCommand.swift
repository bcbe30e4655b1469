import ArgumentParser
import Foundation

/// `medtunnel lockout`: incident staff's lockouts, over the gateway's operator API (the same
/// code as `POST /v1/lockouts` and its siblings: the CLI is a client of the API).
struct LockoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lockout",
        abstract: "Start, list, show and lift emergency lockouts (incident staff).",
        discussion: """
            A lockout is a standing order: every pump in scope, now or when it next connects, gets a \
            signed lockoutStart before anything else and refuses remote changes until two different \
            incident users lift it (`lift`, then `confirm` by another). Scopes: pump:SERIAL, \
            patient:ID, phone:ID (shuts the phone out), model:NAME, firmware:VERSION, all. \
            Every command needs --api and --token (or MEDTUNNEL_API and MEDTUNNEL_TOKEN).
            """,
        subcommands: [Start.self, List.self, Show.self, Lift.self, Confirm.self, BenchSign.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a lockout (audited before anything is sent).")
        @Option(help: "pump:SERIAL, patient:ID, phone:ID, model:NAME, firmware:VERSION or all.") var scope: String
        @Option(help: "Why (required; goes into the audit log).") var reason: String
        @Flag(name: .customLong("suspend-delivery"), help: "Also stop insulin delivery (default: basal continues).")
        var suspendDelivery = false
        @OptionGroup var options: APIOptions

        func run() async throws {
            let answer = try await options.client().send(
                "POST",
                "/v1/lockouts",
                json: ["scope": scope, "reason": reason, "suspendDelivery": suspendDelivery]
            )
            try APIClient.check(answer, "lockout start")
            options.json ? Console.out(answer.text) : LockoutCommand.printLockout(answer.object)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List lockouts, newest first.")
        @OptionGroup var options: APIOptions

        func run() async throws {
            let answer = try await options.client().send("GET", "/v1/lockouts")
            try APIClient.check(answer, "lockout list")
            guard !options.json else { return Console.out(answer.text) }
            let lockouts = answer.object["lockouts"] as? [[String: Any]] ?? []
            if lockouts.isEmpty { Console.out("no lockouts") }
            for lockout in lockouts {
                Console.out(
                    "\(lockout["id"] as? String ?? "?")  \(lockout["state"] as? String ?? "?")  "
                        + "\(lockout["scope"] as? String ?? "?")  \(lockout["reason"] as? String ?? "")"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a lockout: the pumps it covers, which acknowledged it, which are offline."
        )
        @Argument(help: "The lockout id (lck_…).") var id: String
        @OptionGroup var options: APIOptions

        func run() async throws {
            let answer = try await options.client().send("GET", "/v1/lockouts/\(id)")
            try APIClient.check(answer, "lockout show")
            options.json ? Console.out(answer.text) : LockoutCommand.printLockout(answer.object, pumps: true)
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask to lift a lockout; a different incident user must confirm."
        )
        @Argument(help: "The lockout id (lck_…).") var id: String
        @OptionGroup var options: APIOptions

        func run() async throws {
            let answer = try await options.client().send("POST", "/v1/lockouts/\(id)/lift")
            try APIClient.check(answer, "lockout lift")
            options.json ? Console.out(answer.text) : LockoutCommand.printLockout(answer.object)
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Confirm a lift asked by another incident user: the lockout ends."
        )
        @Argument(help: "The lockout id (lck_…).") var id: String
        @OptionGroup var options: APIOptions

        func run() async throws {
            let answer = try await options.client().send("POST", "/v1/lockouts/\(id)/lift/confirm")
            try APIClient.check(answer, "lockout confirm")
            options.json ? Console.out(answer.text) : LockoutCommand.printLockout(answer.object)
        }
    }

    static func printLockout(_ lockout: [String: Any], pumps: Bool = false) {
        let started = lockout["started"] as? [String: Any] ?? [:]
        Console.out(
            "\(lockout["id"] as? String ?? "?") \(lockout["state"] as? String ?? "?"): \(lockout["scope"] as? String ?? "?")"
                + " — \(lockout["reason"] as? String ?? "")"
        )
        Console.out(
            "  started by \(started["by"] as? String ?? "?") at \(started["at"] as? String ?? "?") "
                + "(audit index \(started["auditIndex"] as? Int ?? -1))"
                + ((lockout["suspendDelivery"] as? Bool ?? false) ? ", insulin delivery suspended" : "")
        )
        for (key, label) in [("liftRequested", "lift asked"), ("lifted", "lift confirmed")] {
            if let step = lockout[key] as? [String: Any] {
                Console.out("  \(label) by \(step["by"] as? String ?? "?") at \(step["at"] as? String ?? "?")")
            }
        }
        if let summary = lockout["summary"] as? [String: Any] {
            Console.out(
                "  pumps: \(summary["covered"] as? Int ?? 0) covered, \(summary["acknowledged"] as? Int ?? 0) "
                    + "acknowledged, \(summary["pending"] as? Int ?? 0) pending, \(summary["offline"] as? Int ?? 0) "
                    + "offline (get it on connect)"
            )
        }
        if let note = lockout["note"] as? String { Console.out("  note: \(note)") }
        guard pumps else { return }
        for pump in lockout["pumps"] as? [[String: Any]] ?? [] {
            Console.out(
                "  \(pump["serial"] as? String ?? "?")  \(pump["state"] as? String ?? "?")"
                    + ((pump["acknowledgedAt"] as? String).map { "  at \($0)" } ?? "")
            )
        }
    }
}
