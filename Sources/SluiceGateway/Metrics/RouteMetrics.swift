import Atomics
import NIOHTTP1
import Prometheus

/// One route's metrics: requests by method and status class, the duration histogram, rate-limit decisions and
/// degraded answers by cause. The registry returns the same series for the same name and labels, so a route that
/// a reload keeps keeps counting where it was.
///
/// Recording allocates nothing: the series of a method and status class is created the first time it is used (one
/// registry lookup) and kept in an atomic slot; after that an increment is one relaxed atomic add.
final class RouteMetrics: Sendable {
    /// The methods that get their own label value; anything else is `other` (labels stay bounded).
    static let methods: [HTTPMethod] = [.GET, .HEAD, .POST, .PUT, .DELETE, .PATCH, .OPTIONS]
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// The method's place in `methods`, or `methods.count` for any other (a switch: no generic search).
    static func index(of method: HTTPMethod) -> Int {
        switch method {
        case .GET: 0
        case .HEAD: 1
        case .POST: 2
        case .PUT: 3
        case .DELETE: 4
        case .PATCH: 5
        case .OPTIONS: 6
        default: 7
        }
    }

    /// What a request's gates decided about its rate limits.
    enum RateLimitOutcome: Int, CaseIterable {
        case allowed, limited, shadow, paced
        var label: String { ["allowed", "limited", "shadow", "paced"][rawValue] }
    }

    let name: String
    let registry: PrometheusCollectorRegistry
    let duration: DurationHistogram
    private let requests: [ManagedAtomicLazyReference<Counter>]
    private let rateLimits: [Counter]
    private let degraded: [ManagedAtomicLazyReference<Counter>]

    init(name: String, hasRateLimits: Bool, registry: PrometheusCollectorRegistry) {
        self.name = name
        self.registry = registry
        duration = registry.makeDurationHistogram(
            descriptor: MetricCatalog.requestDuration, labels: [("route", name)], buckets: MetricCatalog.durationBuckets)
        requests = (0..<((Self.methods.count + 1) * Self.statusClasses.count)).map { _ in ManagedAtomicLazyReference() }
        rateLimits = hasRateLimits
            ? RateLimitOutcome.allCases.map {
                registry.makeCounter(descriptor: MetricCatalog.rateLimitDecisions, labels: [("route", name), ("outcome", $0.label)])
            }
            : []
        degraded = DegradeCause.allCases.map { _ in ManagedAtomicLazyReference() }
    }

    /// One answered request.
    func record(method: HTTPMethod, status: UInt, duration: Duration) {
        let methodIndex = Self.index(of: method)
        let statusIndex = min(max(Int(status) / 100, 1), 5) - 1
        let slot = requests[methodIndex * Self.statusClasses.count + statusIndex]
        if let counter = slot.load() {
            counter.increment()
        } else {
            slot.storeIfNilThenLoad(
            registry.makeCounter(
                descriptor: MetricCatalog.requests,
                labels: [
                    ("route", name), ("method", methodIndex < Self.methods.count ? method.rawValue : "other"),
                    ("code", Self.statusClasses[statusIndex]),
                ])).increment()
        }
        self.duration.record(duration)
    }

    /// What the rate limits decided (only routes with rate limits count).
    func record(_ outcome: RateLimitOutcome) {
        guard !rateLimits.isEmpty else { return }
        rateLimits[outcome.rawValue].increment()
    }

    /// A degraded answer.
    func record(degraded cause: DegradeCause) {
        let slot = degraded[cause.rawValue]
        let counter = slot.load() ?? slot.storeIfNilThenLoad(
            registry.makeCounter(
                descriptor: MetricCatalog.degradedAnswers, labels: [("route", name), ("cause", cause.label)]))
        counter.increment()
    }
}

/// Why the gateway degraded an answer.
enum DegradeCause: Int, CaseIterable, Sendable {
    /// `[protection]` shed the request (its priority was below what the gateway could serve).
    case overload
    /// The route's manual switch (admin API).
    case manual
    /// One of the route's degrade rules.
    case rule
    /// One of the upstream's degrade rules.
    case upstreamRule
    /// An open circuit breaker (route or upstream).
    case breaker

    var label: String { ["overload", "manual", "rule", "upstream_rule", "breaker"][rawValue] }

    /// The words the degraded answer's body uses.
    var reason: String { ["overload", "manual", "degrade rule", "upstream degrade rule", "circuit open"][rawValue] }
}

/// One upstream's metrics recorded on the request path: upstream durations by zone, retries, retry-budget
/// refusals.
final class UpstreamMetrics: Sendable {
    let retries: Counter
    let budgetRefusals: Counter
    private let durations: [String: DurationHistogram]
    private let noZone: DurationHistogram?

    init(upstream: String, zones: Set<String?>, registry: PrometheusCollectorRegistry) {
        func histogram(_ zone: String?) -> DurationHistogram {
            registry.makeDurationHistogram(
                descriptor: MetricCatalog.upstreamDuration, labels: [("upstream", upstream), ("zone", zone ?? "")],
                buckets: MetricCatalog.durationBuckets)
        }
        var durations: [String: DurationHistogram] = [:]
        for case let zone? in zones { durations[zone] = histogram(zone) }
        self.durations = durations
        noZone = zones.contains(nil) ? histogram(nil) : nil
        retries = registry.makeCounter(descriptor: MetricCatalog.upstreamRetries, labels: [("upstream", upstream)])
        budgetRefusals = registry.makeCounter(descriptor: MetricCatalog.retryBudgetRefusals, labels: [("upstream", upstream)])
    }

    /// One upstream exchange's duration, on a server of `zone`.
    func recordDuration(_ duration: Duration, zone: String?) {
        if let zone, let histogram = durations[zone] {
            histogram.record(duration)
        } else {
            noZone?.record(duration)
        }
    }
}
