import Gateway
import Prometheus
import TelemetryStore

extension OperatorAPI {
    /// Gauges read from the registries at scrape time (counters are counted as things happen,
    /// through ``Gateway/GatewayMetrics``). Names are `medtunnel_gateway_<metric>_<unit>`.
    func updateGauges() {
        let pumps = self.pumps.pumps
        let phones = self.phones.phones
        var gauges: [(metric: String, unit: String, help: String, value: Int)] = [
            ("pumps", "connected", "Pumps with a live session", pumps.filter(\.connected).count),
            ("pumps", "known", "Pumps seen by this gateway (kept across restarts)", pumps.count),
            ("phones", "connected", "Phones with an open uplink", phones.filter(\.connected).count),
            ("uplinks", "open", "Phone uplinks open", phones.reduce(0) { $0 + $1.uplinks }),
            (
                "telemetry", "rows", "Telemetry messages stored, all pumps (kept across restarts)",
                pumps.reduce(0) { $0 + $1.telemetryStored }
            ),
        ]
        if let statistics = self.store?.statistics {
            gauges.append(
                (
                    "telemetry_store_largest", "queue", "The most writes waiting for the store at once",
                    statistics.largestQueue
                )
            )
            gauges.append(
                ("telemetry_store", "commits", "Store transactions committed since start", statistics.commits)
            )
        }
        for gauge in gauges {
            let descriptor = MetricNameDescriptor(
                namespace: "medtunnel",
                subsystem: "gateway",
                metricName: gauge.metric,
                unitName: gauge.unit,
                helpText: gauge.help
            )
            self.prometheus.makeGauge(descriptor: descriptor).set(Double(gauge.value))
        }
    }
}
