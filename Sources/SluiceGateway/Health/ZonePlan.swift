/// The servers one request may be balanced over, as decided by `ZoneRouting.plan(zones:healthy:)`.
enum ZonePlan: Sendable, Equatable {
    /// No zone preference: these servers (every healthy one; in panic, every server, healthy or not).
    case all([Int], panic: Bool)
    /// The local zone has enough healthy capacity: only its healthy servers.
    case local([Int])
    /// The local zone is short: its healthy servers with `localProbability`, otherwise the healthy servers of the
    /// other zones. `local` is empty and the probability 0 when the whole local zone is down.
    case spill(local: [Int], localProbability: Double, remote: [Int])
}
