import AuditWitness
import CommandPipeline
import CoreMetrics
import Logging
import ProductMetrics

extension GatewayCommand {
    /// The product's metrics (docs/metrics.md): the change counters start observing the change
    /// store now, before anything is served; the returned service refreshes the gauges.
    func productMetrics(
        commands: CommandPipeline,
        factory: any MetricsFactory,
        logger: Logger
    ) async throws -> ProductMetricsRefresher {
        try await ChangeMetrics(factory: factory).observe(commands.store)
        let refresher = ProductMetricsRefresher(
            audit: commands.audit,
            lockouts: commands.lockouts,
            cosignatures: CosignatureStore(stateDirectory: self.stateDir),
            factory: factory,
            logger: logger
        )
        await refresher.refresh()
        return refresher
    }
}
