import AnomalyRules
import CommandPipeline
import Foundation
import Lockouts
import Logging
public import SecurityEvents

extension GatewayServer {
    /// The durable recorder of a gateway with a command pipeline: the event index under the state
    /// directory (rolled forward from the audit log), the rules, and automatic lockouts through
    /// the pipeline.
    static func openRecorder(
        configuration: Configuration,
        commands: CommandPipeline,
        logger: Logger
    ) async throws -> SecurityEventRecorder {
        // A state directory bound to a shared database: the events and alerts of every node.
        let store = try await SecurityEventStore.forStateDirectory(configuration.stateDirectory, audit: commands.audit)
        try await store.recover()
        var settings = SecurityEventRecorder.Configuration(rules: configuration.rules)
        settings.webhook = configuration.alertWebhook
        settings.metrics = configuration.metrics.factory
        return SecurityEventRecorder(
            store: store,
            configuration: settings,
            logger: logger,
            clock: { Int64(Date().timeIntervalSince1970 * 1000) }
        ) { firing in
            let scope: LockoutScope =
                firing.subject == .phone ? .phone(firing.subjectValue) : .pump(firing.subjectValue)
            return await commands.startAutomaticLockout(scope: scope, rule: firing.rule, reason: firing.description)?
                .id.rawValue
        }
    }

    /// Connects the registry's events, the pipeline's audited events and its observations to
    /// the recorder.
    func connect(_ recorder: SecurityEventRecorder) {
        self.registry.forwardEvents { event in recorder.record(Self.observed(event)) }
        guard let commands = self.commands else { return }
        let registry = self.registry
        commands.observeSecurityEvents { event in
            registry.record(Self.registryEvent(event), forward: false)
            let observed = ObservedEvent(
                timeMilliseconds: event.time.millisecondsSinceEpoch,
                kind: event.kind,
                reason: event.reason.isEmpty ? nil : event.reason,
                pump: event.serial,
                detail: event.detail
            )
            if let index = event.auditIndex {
                recorder.recordAudited(observed, auditIndex: index)
            } else {
                recorder.record(observed)
            }
        }
        commands.observe { observation in
            recorder.observe(
                ObservedEvent(
                    timeMilliseconds: observation.time.millisecondsSinceEpoch,
                    kind: observation.kind,
                    pump: observation.pump,
                    phone: observation.phone,
                    detail: observation.detail
                )
            )
        }
    }

    /// A pipeline's security event as the registry keeps it.
    static func registryEvent(_ event: PipelineSecurityEvent) -> SecurityEvent {
        SecurityEvent(
            timeMilliseconds: event.time.millisecondsSinceEpoch,
            kind: event.kind,
            device: event.serial,
            detail: event.detail,
            carrier: nil,
            reason: event.reason.isEmpty ? nil : event.reason
        )
    }

    /// A registry event as the rules and the audit log see it: the pump or phone it names, the
    /// phone that carried it, or for an unauthenticated peer its address without the port.
    static func observed(_ event: SecurityEvent) -> ObservedEvent {
        var pump: String?
        var phone: String?
        var source: String?
        if let device = event.device {
            if device.hasPrefix("phone ") { phone = String(device.dropFirst("phone ".count)) } else { pump = device }
        }
        if let carrier = event.carrier {
            if carrier.hasPrefix("phone ") {
                phone = phone ?? String(carrier.dropFirst("phone ".count))
            } else if carrier.hasPrefix("direct ") {
                source = HostPort(String(carrier.dropFirst("direct ".count)))?.host
            }
        }
        return ObservedEvent(
            timeMilliseconds: event.timeMilliseconds,
            kind: event.kind,
            reason: event.reason,
            pump: pump,
            phone: phone,
            source: source,
            detail: event.detail
        )
    }
}
