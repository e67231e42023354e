public import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore

/// Counts requests and times answers through swift-metrics (so any backend: swift-prometheus, statsd, OTel):
/// `<prefix>_requests_total` and `<prefix>_request_duration_seconds`, with `method`, `route` (the pattern, not the
/// path, so the label set stays bounded; `unmatched` for 404s) and `status`. The metric handles are made once per
/// label set and kept; a request looks them up. `factory` defaults to the one `MetricsSystem.bootstrap` installed.
public func Metrics(prefix: String = "http_server", factory: (any MetricsFactory)? = nil) -> Handler {
    let cache = MetricHandles(prefix: prefix, factory: factory ?? MetricsSystem.factory)
    return { c in
        c.onFinish { c in
            let (counter, timer) = cache.handles(
                method: c.method.rawValue, route: c.fullPath ?? "unmatched", status: Int(c.responseStatus.code))
            counter.increment()
            timer.recordNanoseconds((NIODeadline.now() - c.startTime).nanoseconds)
        }
        try c.next()
    }
}

/// The counters and timers `Metrics` made, by label set.
final class MetricHandles: Sendable {
    private struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    private let prefix: String
    private let factory: any MetricsFactory
    private let made = NIOLockedValueBox<[Key: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    init(prefix: String, factory: any MetricsFactory) {
        self.prefix = prefix
        self.factory = factory
    }

    func handles(method: String, route: String, status: Int) -> (CoreMetrics.Counter, CoreMetrics.Timer) {
        let key = Key(method: method, route: route, status: status)
        if let found = made.withLockedValue({ $0[key] }) { return found }
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        let handles = (
            CoreMetrics.Counter(label: prefix + "_requests_total", dimensions: dimensions, factory: factory),
            CoreMetrics.Timer(
                label: prefix + "_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds,
                factory: factory)
        )
        made.withLockedValue { $0[key] = handles }
        return handles
    }
}
