import Atomics
import NIOConcurrencyHelpers
import Prometheus

/// The gateway's metrics registry (swift-prometheus), and what lives there beyond routes and upstreams: reloads,
/// the configuration's identity, and the gauges set from the gateway's state each time `/metrics` is scraped.
///
/// Hot-path series (requests, durations, rate-limit decisions) are recorded where they happen, allocation-free;
/// state (health, ejections, pools, breakers, memory) is read when scraped, so it costs nothing between scrapes.
final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Requests no route took (404, 400, `OPTIONS *`): route label `-`.
    let unrouted: RouteMetrics
    let reloadSuccesses: Counter
    let reloadFailures: Counter
    /// Counters kept elsewhere (`GatewayStats`, listeners) copied in when scraped: what each last added.
    private let copied = NIOLockedValueBox<[String: Int64]>([:])
    /// Gauges set on the last scrape, so that series of servers or routes a reload removed disappear.
    private let lastGauges = NIOLockedValueBox<[ObjectIdentifier: Gauge]>([:])
    private let configInfo = NIOLockedValueBox<Gauge?>(nil)

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        unrouted = RouteMetrics(name: "-", hasRateLimits: false, registry: registry)
        reloadSuccesses = registry.makeCounter(descriptor: MetricCatalog.reloads, labels: [("result", "success")])
        reloadFailures = registry.makeCounter(descriptor: MetricCatalog.reloads, labels: [("result", "failure")])
        registry.makeGauge(descriptor: MetricCatalog.buildInfo, labels: [("version", Sluice.version)]).set(to: 1)
    }

    /// Records the configuration now in force: its hash as a label, when it was loaded.
    func configLoaded(hash: String, at unixSeconds: Double, generation: Int) {
        let gauge = registry.makeGauge(descriptor: MetricCatalog.configInfo, labels: [("hash", String(hash.prefix(16)))])
        gauge.set(to: 1)
        configInfo.withLockedValue { old in
            if let old, old !== gauge { registry.unregisterGauge(old) }
            old = gauge
        }
        registry.makeGauge(descriptor: MetricCatalog.configLoaded, labels: []).set(to: unixSeconds)
        registry.makeGauge(descriptor: MetricCatalog.configGeneration, labels: []).set(to: Double(generation))
    }

    /// A reload's result.
    func reloaded(_ success: Bool) {
        (success ? reloadSuccesses : reloadFailures).increment()
        registry.makeGauge(descriptor: MetricCatalog.lastReloadSuccessful, labels: []).set(to: success ? 1 : 0)
    }

    /// Brings a counter kept elsewhere up to `total` (it only grows).
    func copy(_ descriptor: MetricNameDescriptor, labels: [(String, String)] = [], total: Int) {
        let key = descriptor.name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
        let delta = copied.withLockedValue { copied -> Int64 in
            let last = copied[key] ?? 0
            copied[key] = max(last, Int64(total))
            return max(0, Int64(total) - last)
        }
        if delta > 0 { counter.increment(by: delta) }
    }

    /// One scrape's gauges: set each, and drop those a previous scrape set that this one did not.
    struct GaugeSet {
        let registry: PrometheusCollectorRegistry
        fileprivate(set) var set: [ObjectIdentifier: Gauge] = [:]

        mutating func set(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], _ value: Double) {
            let gauge = registry.makeGauge(descriptor: descriptor, labels: labels)
            gauge.set(to: value)
            set[ObjectIdentifier(gauge)] = gauge
        }

        mutating func set(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], _ value: Bool) {
            set(descriptor, labels, value ? 1 : 0)
        }

        mutating func set(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], _ value: Int) {
            set(descriptor, labels, Double(value))
        }
    }

    /// Sets the scrape's gauges (filled by `fill`) and renders the exposition text.
    func render(_ fill: (inout GaugeSet) -> Void) -> [UInt8] {
        var gauges = GaugeSet(registry: registry)
        fill(&gauges)
        let current = gauges.set
        lastGauges.withLockedValue { last in
            for (id, gauge) in last where current[id] == nil { registry.unregisterGauge(gauge) }
            last = current
        }
        return registry.emitToBuffer()
    }
}
