import NIOCore

/// The clock the traffic policies are driven by: NIO's monotonic uptime as a `Duration`. The policies themselves
/// take `now` as a parameter (so their tests are exact); only the gateway reads the clock.
enum TrafficClock {
    static func now() -> Duration {
        .nanoseconds(Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds))
    }
}
