import AccessTokens
import Accounts
public import AuditLog
import ChangeRequests
import CommandAuthority
import Lockouts
public import Logging
public import MedTunnelPKI
public import TherapyModel

extension CommandPipeline {
    /// The pipeline of a gateway: its state directory's audit log (`audit`, or opened here),
    /// accounts, token key (created on first use) and change-request store; the PKI's command
    /// key and pump certificates. Call `recover()` on it before serving, then `run()`.
    /// `clock` is the gateway's time (tests set it; the pump keeps its own).
    public static func open(
        stateDirectory: String,
        pki: PKIDirectory,
        audit: AuditLog? = nil,
        configuration: Configuration = Configuration(),
        logger: Logger,
        clock: @escaping @Sendable () -> Timestamp = CommandPipeline.wallClock
    ) async throws -> CommandPipeline {
        let log: AuditLog
        if let audit {
            log = audit
        } else {
            log = try await AuditLog.open(stateDirectory: stateDirectory)
        }
        let accounts = try await AccountStore.forStateDirectory(stateDirectory)
        let key = try TokenSigningKey.load(stateDirectory: stateDirectory)
        let revocations = try await TokenRevocationStore.forStateDirectory(stateDirectory)
        // A revocation that stood but whose audit entry a crash prevented is logged now.
        try await revocations.recover(audit: log, now: clock())
        return CommandPipeline(
            store: try await ChangeRequestStore.forStateDirectory(stateDirectory, audit: log),
            audit: log,
            authenticator: try await Authenticator(key: key, accounts: accounts, revocations: revocations),
            signer: try CommandSigner.load(from: pki),
            pumpKeys: .pki(pki),
            lockouts: try await LockoutStore.forStateDirectory(stateDirectory, audit: log),
            configuration: configuration,
            logger: logger,
            clock: clock
        )
    }
}
