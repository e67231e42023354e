import Prometheus

/// A route's filter counters: auth decisions, mirrored copies, address refusals. Made once per route and
/// compile (the registry hands back the same series, so counts survive reloads); recording is one atomic add.
final class FilterMetrics: Sendable {
    enum AuthOutcome: Int, CaseIterable {
        case passed, refused, unavailable
        var label: String { ["passed", "refused", "unavailable"][rawValue] }
    }

    enum MirrorOutcome: Int, CaseIterable {
        case sent, answered, failed, skipped
        var label: String { ["sent", "answered", "failed", "skipped"][rawValue] }
    }

    private let auth: [Counter]
    private let mirror: [Counter]
    let denied: Counter

    init(route: String, registry: PrometheusCollectorRegistry) {
        auth = AuthOutcome.allCases.map {
            registry.makeCounter(descriptor: MetricCatalog.authDecisions, labels: [("route", route), ("outcome", $0.label)])
        }
        mirror = MirrorOutcome.allCases.map {
            registry.makeCounter(descriptor: MetricCatalog.mirrorRequests, labels: [("route", route), ("outcome", $0.label)])
        }
        denied = registry.makeCounter(descriptor: MetricCatalog.accessDenied, labels: [("route", route)])
    }

    func record(_ outcome: AuthOutcome) { auth[outcome.rawValue].increment() }
    func record(_ outcome: MirrorOutcome) { mirror[outcome.rawValue].increment() }
}
