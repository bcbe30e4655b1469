// swift-tools-version:6.0
import PackageDescription

// Module map: see README.md ("Modules") and ../shared/DESIGN.md.
// The relay module must never depend on GatewayTLS' inner side, PumpTLS or TunnelProtocol:
// the dependency graph is the proof that the phone cannot decrypt the tunnel.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "MedTunnel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "medtunnel", targets: ["medtunnel"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: Domain (Foundation-free)
        .target(name: "MedTunnelIdentity", swiftSettings: swiftSettings),
        .target(name: "TherapyModel", swiftSettings: swiftSettings),
        .target(name: "SafetyPolicy", dependencies: ["TherapyModel"], swiftSettings: swiftSettings),
        // JSON for TherapyModel and SafetyPolicy (uses Foundation, so it is not in the domain modules).
        .target(name: "TherapyJSON", dependencies: ["TherapyModel", "SafetyPolicy"], swiftSettings: swiftSettings),
        .target(
            name: "TunnelProtocol",
            dependencies: ["TherapyModel", "MedTunnelIdentity"],
            swiftSettings: swiftSettings
        ),

        // MARK: TLS engines
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "GatewayTLS",
            dependencies: [
                "COpenSSL", "MedTunnelIdentity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CMbedTLS", providers: [.apt(["libmbedtls-dev"])]),
        .target(name: "PumpTLS", dependencies: ["CMbedTLS"], swiftSettings: swiftSettings),

        // MARK: Pairing QR code
        // CQRCode: libqrencode (the symbol) and libpng (its image). QRCode: text to a symbol
        // (byte mode, error correction M), drawn for a terminal or written as a PNG. Never a
        // QR encoder of our own.
        .systemLibrary(
            name: "CQRCode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev", "libpng-dev"])]
        ),
        .target(name: "QRCode", dependencies: ["CQRCode"], swiftSettings: swiftSettings),

        // MARK: Commands
        // PumpRuntime: the pump firmware's command core (verify, apply, persist, acknowledge),
        // Foundation-free, crypto by mbedTLS. CommandAuthority: the gateway's side (signs
        // envelopes with the command key, verifies acknowledgements), swift-crypto.
        .target(
            name: "PumpRuntime",
            dependencies: ["CMbedTLS", "TunnelProtocol", "TherapyModel", "MedTunnelIdentity"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CommandAuthority",
            dependencies: [
                "TunnelProtocol", "TherapyModel", "MedTunnelPKI", "MedTunnelIdentity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: PKI
        .target(
            name: "MedTunnelPKI",
            dependencies: [
                "MedTunnelIdentity",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Audit log
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SQLiteStore", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        .target(
            name: "AuditLog",
            dependencies: ["SQLiteStore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // AuditPostgres: the audit log's store on PostgreSQL (postgres-nio), for several gateway
        // nodes sharing one log: the same tables as SQLiteAuditStore, versioned migrations applied at
        // open, appends serialized across nodes by a lock on the one-row head table (docs/postgres.md).
        .target(
            name: "AuditPostgres",
            dependencies: [
                "AuditLog", "SQLiteStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // NodeLeases: what one gateway node holds among several (its node lease, the pumps and
        // roles it owns under it) as a pure state machine, the keeper that carries it out and
        // the fence checked before every send. ClusterPostgres: those leases in PostgreSQL.
        .target(
            name: "NodeLeases",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ClusterPostgres",
            dependencies: [
                "AuditPostgres", "NodeLeases",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // StoresPostgres: the stores' tables in the audit log's PostgreSQL database (several
        // gateway nodes), a step's audit entry and its rows in one transaction; LISTEN/NOTIFY.
        .target(
            name: "StoresPostgres",
            dependencies: [
                "AuditLog", "AuditPostgres", "ChangeRequests", "Lockouts", "SecurityEvents", "TelemetryStore",
                "SQLiteStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // AuditExport: the audit log as JSON lines, CSV and FHIR R4 AuditEvent bundles (IHE BALP),
        // written entry by entry with bounded memory, for the CLI and the operator API.
        .target(name: "AuditExport", dependencies: ["AuditLog", "TherapyJSON"], swiftSettings: swiftSettings),

        // AuditSyslog: every audit entry as an RFC 5424 syslog message, octet-counted (RFC 6587 /
        // RFC 5425), the durable cursor (STATE/syslog.cursor) and the pure state machine of the
        // stream (connect, send in batches, settle, rewind). No NIO: AuditSyslogStream carries
        // the machine's actions out over TLS (GatewayTLS, client role) as a Service.
        .target(
            name: "AuditSyslog",
            dependencies: ["AuditLog", "AuditTrail", "TherapyJSON"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AuditSyslogStream",
            dependencies: [
                "AuditSyslog", "AuditLog", "GatewayTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // AuditWitness: a witness that runs apart from the gateway (`medtunnel witness`): follows the
        // log's checkpoints, refuses rollbacks and forks, cosigns (C2SP tlog-cosignature, Ed25519);
        // the cosignature store and check the gateway and `audit verify` use.
        .target(
            name: "AuditWitness",
            dependencies: ["AuditLog", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // StateBackup: the state directory's lock (gateway.lock, writers.lock), backups taken with
        // SQLite's online backup API while the gateway runs, their verification, and restore with
        // the witness rollback rule (docs/backup.md, docs/operations.md).
        .target(
            name: "StateBackup",
            dependencies: [
                "SQLiteStore", "AuditLog", "AuditWitness", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Accounts, tokens and change requests (issue 6)
        // Accounts: users with a role and attributes (STATE/accounts.sqlite). AccessTokens: ES256
        // bearer tokens and the Authenticator the operator API calls (no HTTP framework).
        // ChangeRequests: the durable change-request store and per-pump command queue
        // (STATE/changes.sqlite), written in step with the audit log.
        .target(
            name: "Accounts",
            dependencies: ["SQLiteStore", "AuditLog", "SafetyPolicy", "TherapyModel"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AccessTokens",
            dependencies: [
                "Accounts", "AuditLog", "SafetyPolicy", "SQLiteStore", "DurationText",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ChangeRequests",
            dependencies: ["SQLiteStore", "AuditLog", "SafetyPolicy", "TherapyModel", "TherapyJSON", "TunnelProtocol"],
            swiftSettings: swiftSettings
        ),

        // Lockouts: incident staff's standing orders over a scope (pump, patient, phone, model,
        // firmware, all), their two-person lift, the lockout commands sent and acknowledged, and
        // the directory of pumps' attributes (STATE/lockouts.sqlite), written after the audit log.
        .target(name: "Lockouts", dependencies: ["SQLiteStore", "AuditLog"], swiftSettings: swiftSettings),

        // SecurityEvents: security events written to the audit log (aggregated against floods) and
        // indexed (STATE/events.sqlite), the rules over them and the alerts they raise.
        .target(
            name: "SecurityEvents",
            dependencies: [
                "AnomalyRules", "AuditLog", "SQLiteStore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // AuditTrail: the audit log as operators read it (one filter for the CLI and the API,
        // one-line summaries, paged scans) and the timer that signs checkpoints.
        .target(
            name: "AuditTrail",
            dependencies: [
                "AuditLog", "TherapyJSON", "SecurityEvents", "Lockouts",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The setting-change pipeline (issue 6)
        // authenticate → authorize → policy → audit → store → sign → deliver → verify the
        // acknowledgement → audit. No HTTP or NIO: the operator API and the gateway's pump
        // sessions call it.
        .target(
            name: "CommandPipeline",
            dependencies: [
                "ChangeRequests", "Accounts", "AccessTokens", "AuditLog", "SafetyPolicy", "TherapyModel", "TherapyJSON",
                "TunnelProtocol", "CommandAuthority", "MedTunnelPKI", "Lockouts", "NodeLeases",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // ChangeRoutes: the operator API's change routes (Hummingbird) over the pipeline.
        .target(
            name: "ChangeRoutes",
            dependencies: [
                "CommandPipeline", "ChangeRequests", "AccessTokens", "Lockouts", "TherapyJSON", "TherapyModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Console sign-in (passkeys)
        // Passkeys: WebAuthn registration and assertion verified by hand (a strict CBOR subset,
        // authenticator data, COSE ES256 keys, clientDataJSON), challenges; Foundation and
        // swift-crypto only. PasskeyStore: credentials and invitations (STATE/passkeys.sqlite).
        // ConsoleAuth: the console's sessions, CSRF, step-up and /console/auth routes (Hummingbird).
        .target(
            name: "Passkeys",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PasskeyStore",
            dependencies: ["Passkeys", "SQLiteStore", "AuditLog", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConsoleAuth",
            dependencies: [
                "Passkeys", "PasskeyStore", "Accounts", "AccessTokens", "AuditLog", "SafetyPolicy", "TherapyModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),

        // MARK: Relay (the untrusted phone: forwards ciphertext, never decrypts)
        // RelayFraming: the outer wire format (HTTP/2, one stream per pump link), shared by
        // the relay and the gateway. RelayCore uses GatewayTLS only for its own outer TLS
        // client; it must never depend on PumpTLS or TunnelProtocol.
        .target(
            name: "RelayFraming",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RelayCore",
            dependencies: [
                "RelayFraming", "GatewayTLS", "MedTunnelIdentity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // RelayHostility: a hostile relay for tests and demos (drop, delay, duplicate, reorder, flip,
        // truncate, inject, replay, splice), put in a relay's link path through RelayCore's
        // interposer hook. Like the relay, it must never depend on PumpTLS or TunnelProtocol.
        .target(
            name: "RelayHostility",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Anomaly rules
        // AnomalyRules: pure decisions over the gateway's security events: bounded aggregation for
        // the audit log, rules that fire (alert or lock out a phone or pump), and the alert webhook.
        // Foundation only, so the gateway can wire it in without it knowing NIO or TLS.
        .target(name: "AnomalyRules", dependencies: ["DurationText"], swiftSettings: swiftSettings),

        // MARK: Configuration (issue 13)
        // DurationText: the one duration syntax of every option, configuration file and rules file
        // (250ms, 10s, 15m, 12h), Foundation-free. MedTunnelConfig: `gateway`, `relay` and `witness`
        // options from a JSON file (--config) and MEDTUNNEL_<COMMAND>_<OPTION> variables, read with
        // swift-configuration and layered under the command line (docs/configuration.md).
        .target(name: "DurationText", swiftSettings: swiftSettings),
        // SystemdNotify: READY=1 / STOPPING=1 to $NOTIFY_SOCKET for `Type=notify` units (contrib/systemd).
        .target(name: "SystemdNotify", swiftSettings: swiftSettings),
        .target(
            name: "MedTunnelConfig",
            dependencies: ["DurationText", .product(name: "Configuration", package: "swift-configuration")],
            swiftSettings: swiftSettings
        ),

        // MARK: Processes
        // LogFormat: the long-running commands' log lines, swift-log's text or JSON lines
        // (`--log-format json`), and their announcements in the same format.
        .target(
            name: "LogFormat",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // ProductMetrics: the product's metrics beside the transport's: changes by final state and
        // kind, approvals waiting, delivery latency (counted as changes move), the audit log's size
        // and the age of its checkpoint and cosignature, lockouts (refreshed every few seconds).
        .target(
            name: "ProductMetrics",
            dependencies: [
                "ChangeRequests", "AuditLog", "AuditWitness", "Lockouts", "TherapyModel",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PumpSimulator",
            dependencies: [
                "PumpTLS", "TunnelProtocol", "PumpRuntime", "TherapyModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // TelemetryStore: what pumps said and when they were seen, in SQLite under the state dir
        // or in the shared PostgreSQL database of several nodes (AuditLog: its binding, its errors).
        .target(
            name: "TelemetryStore",
            dependencies: ["SQLiteStore", "TunnelProtocol", "AuditLog"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "CommandPipeline", "GatewayTLS", "TunnelProtocol", "MedTunnelPKI", "AuditLog", "SafetyPolicy",
                "RelayFraming", "SecurityEvents", "AnomalyRules", "Lockouts",
                "TelemetryStore", "TherapyModel",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // OperatorAPI: the operators' HTTP API (JSON) and Prometheus metrics over the gateway's state,
        // over HTTPS with the gateway's own TLS engine (GatewayTLSChannel); its OpenAPI document
        // is a resource of the module (Resources/openapi.json, served at GET /openapi.json).
        .target(
            name: "OperatorAPI",
            dependencies: [
                "Gateway", "CommandPipeline", "ChangeRoutes", "TelemetryStore", "TherapyJSON", "SecurityEvents",
                "AnomalyRules", "AccessTokens", "AuditLog", "AuditExport", "AuditTrail", "AuditWitness", "ConsoleAuth",
                "GatewayTLS", "ProductMetrics", "NodeLeases",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        // Console: the operators' web console (server-rendered Mustache pages under /console).
        .target(
            name: "Console",
            dependencies: [
                "OperatorAPI", "ConsoleAuth", "CommandPipeline", "ChangeRoutes", "ChangeRequests",
                "Gateway",
                "TelemetryStore", "AccessTokens", "AuditLog", "AuditTrail", "SecurityEvents", "Lockouts",
                "TherapyModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "medtunnel",
            dependencies: [
                "StoresPostgres", "Gateway", "OperatorAPI", "Console", "PumpSimulator", "MedTunnelPKI",
                "MedTunnelIdentity", "AuditLog",
                "AuditTrail", "AuditWitness",
                "RelayCore",
                "RelayHostility",
                "SQLiteStore", "SafetyPolicy", "TherapyModel", "TherapyJSON", "Accounts", "AccessTokens",
                "ChangeRequests", "CommandPipeline",
                "PumpRuntime", "TunnelProtocol", "AnomalyRules", "Lockouts", "SecurityEvents", "CommandAuthority",
                "QRCode", "AuditExport", "ConsoleAuth", "PasskeyStore", "Passkeys", "AuditSyslog", "AuditSyslogStream",
                "GatewayTLS", "DurationText", "MedTunnelConfig", "SystemdNotify", "StateBackup", "LogFormat",
                "ProductMetrics", "AuditPostgres", "NodeLeases", "ClusterPostgres", "TelemetryStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        // Shared test support: child processes without Foundation's Process (see ChildProcess),
        // throwaway PostgreSQL and HAProxy servers, and a TCP proxy a test can cut (NIO).
        .target(
            name: "MedTunnelTestSupport",
            dependencies: [
                "MedTunnelPKI", "MedTunnelIdentity", "AuditLog", "AuditPostgres", "StoresPostgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/MedTunnelTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TherapyModelTests", dependencies: ["TherapyModel"], swiftSettings: swiftSettings),
        // Passkeys: the ceremonies against a software authenticator (MedTunnelTestSupport), the
        // store, and the console's routes and sessions through Hummingbird's test client.
        .testTarget(
            name: "PasskeysTests",
            dependencies: [
                "Passkeys", "PasskeyStore", "ConsoleAuth", "Accounts", "AccessTokens", "AuditLog", "SafetyPolicy",
                "TherapyModel", "MedTunnelTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SafetyPolicyTests",
            dependencies: ["SafetyPolicy", "TherapyModel", "TherapyJSON", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TunnelProtocolTests", dependencies: ["TunnelProtocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "QRCodeTests",
            dependencies: ["QRCode", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditLogTests",
            dependencies: ["AuditLog", "AuditPostgres", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditExportTests",
            dependencies: ["AuditExport", "AuditLog", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditTrailTests",
            dependencies: [
                "AuditTrail", "AuditLog", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditSyslogTests",
            dependencies: ["AuditSyslog", "AuditLog"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditWitnessTests",
            dependencies: [
                "AuditWitness", "AuditLog", "MedTunnelTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeLeasesTests",
            dependencies: ["NodeLeases", "ClusterPostgres", "AuditPostgres", "AuditLog", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SQLiteStoreTests", dependencies: ["SQLiteStore"], swiftSettings: swiftSettings),
        .testTarget(name: "AnomalyRulesTests", dependencies: ["AnomalyRules"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MedTunnelConfigTests",
            dependencies: ["MedTunnelConfig", "DurationText", "SystemdNotify", "MedTunnelTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LogFormatTests",
            dependencies: ["LogFormat", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SecurityEventsTests",
            dependencies: [
                "SecurityEvents", "AnomalyRules", "AuditLog", "AuditPostgres", "StoresPostgres",
                "MedTunnelTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LockoutsTests",
            dependencies: [
                "Lockouts", "AuditLog", "AuditPostgres", "StoresPostgres", "MedTunnelTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PumpRuntimeTests",
            dependencies: [
                "PumpRuntime", "CommandAuthority", "TunnelProtocol", "TherapyModel", "MedTunnelPKI",
                "MedTunnelIdentity", "GatewayTLS", "PumpSimulator", "PumpTLS", "MedTunnelTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AccountsTests",
            dependencies: [
                "Accounts", "AccessTokens", "AuditLog", "SafetyPolicy", "TherapyModel", "SQLiteStore",
                "MedTunnelTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChangeRequestsTests",
            dependencies: [
                "ChangeRequests", "StoresPostgres", "AuditLog", "AuditPostgres", "SafetyPolicy", "TherapyModel",
                "TherapyJSON", "MedTunnelTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CommandPipelineTests",
            dependencies: [
                "CommandPipeline", "ChangeRoutes", "OperatorAPI", "Console", "Gateway",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"), "ChangeRequests", "Accounts", "AccessTokens",
                "AuditLog", "SafetyPolicy",
                "TherapyModel", "TherapyJSON", "TunnelProtocol", "CommandAuthority", "MedTunnelPKI",
                "MedTunnelIdentity", "MedTunnelTestSupport",
                "PumpRuntime", "Lockouts", "SecurityEvents", "AuditTrail", "AuditWitness",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TLSTests",
            dependencies: [
                "GatewayTLS", "PumpTLS", "MedTunnelPKI", "MedTunnelTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PKITests",
            dependencies: [
                "MedTunnelPKI", "MedTunnelIdentity", "MedTunnelTestSupport", "CommandAuthority",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "TunnelProtocol", "TelemetryStore", "SQLiteStore", "PumpSimulator", "PumpTLS",
                "MedTunnelPKI", "MedTunnelIdentity", "RelayCore", "GatewayTLS", "MedTunnelTestSupport",
                "StoresPostgres", "AuditPostgres", "AuditLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OperatorAPITests",
            dependencies: [
                "OperatorAPI", "Gateway", "TunnelProtocol", "TelemetryStore", "MedTunnelPKI", "AccessTokens",
                "Accounts", "AuditLog", "AuditTrail", "AuditWitness", "CommandPipeline", "SafetyPolicy", "TherapyModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "MedTunnelTestSupport", "MedTunnelConfig",
                "MedTunnelPKI", "SQLiteStore", "CommandAuthority", "TunnelProtocol", "GatewayTLS", "TherapyModel",
                "AuditLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "RelayCore", "RelayFraming", "RelayHostility", "Gateway", "GatewayTLS", "PumpSimulator", "PumpTLS",
                "TunnelProtocol",
                "MedTunnelPKI", "MedTunnelIdentity", "MedTunnelTestSupport",
                // The command path through a hostile relay (CommandPathHostilityTests).
                "CommandPipeline", "ChangeRequests", "Accounts", "AccessTokens", "AuditLog", "PumpRuntime",
                "AnomalyRules", "SecurityEvents", "Lockouts",
                "SafetyPolicy", "TherapyModel", "TherapyJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
