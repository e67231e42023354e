import Logging
import NIOConcurrencyHelpers
import NIOCore
import SluiceConfig
import SluiceTraffic

/// Feeds the outcomes of one upstream's requests, from every event loop, to its `OutlierDetector`, and publishes
/// ejections on the servers' `ServerHealth` so that picks see them without a lock. Carried over a reload when the
/// upstream's servers and outlier settings did not change, so ejections and their history survive it.
final class OutlierTracker: Sendable {
    let configuration: OutlierConfig
    private let detector: NIOLockedValueBox<OutlierDetector>
    private let events: ThrottledLogger

    init(configuration: OutlierConfig, serverCount: Int, events: ThrottledLogger) {
        self.configuration = configuration
        self.events = events
        let settings = OutlierDetectorConfiguration(
            consecutive5xx: configuration.consecutive5xx,
            consecutiveGatewayFailure: configuration.consecutiveGatewayFailure,
            baseEjection: configuration.ejection, maxEjection: configuration.maxEjection,
            maxEjectedPercent: Int((configuration.maxEjectedPercent * 100).rounded()),
            interval: configuration.interval,
            successRate: configuration.successRate ? .init() : nil)
        self.detector = NIOLockedValueBox(
            OutlierDetector(serverCount: serverCount, configuration: settings, now: Self.now()))
    }

    /// Monotonic time, as the detector counts it.
    static func now() -> Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    func record(server index: Int, of servers: [UpstreamServer], outcome: OutlierDetector.Outcome) {
        let now = Self.now()
        let ejections = detector.withLockedValue { detector in
            detector.tick(now: now) + (detector.record(server: index, outcome: outcome, now: now).map { [$0] } ?? [])
        }
        for ejection in ejections where ejection.server < servers.count {
            let server = servers[ejection.server]
            server.health.eject(until: ejection.until.wholeNanoseconds)
            events.log(
                .warning, "upstream server ejected", subject: "server", value: server.target.description,
                metadata: ["reason": "\(ejection.reason)", "for": "\(ejection.until - now)"])
        }
    }
}
