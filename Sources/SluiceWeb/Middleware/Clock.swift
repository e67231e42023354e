import NIOCore

/// The monotonic time the traffic policies take, as `Duration` since boot.
public enum MonotonicClock {
    public static var now: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    static func duration(since start: NIODeadline) -> Duration {
        .nanoseconds((NIODeadline.now() - start).nanoseconds)
    }
}
