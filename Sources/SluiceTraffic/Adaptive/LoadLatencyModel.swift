/// The latency of a backend whose latency climbs with its load: `latency = base × max(1, inflight ÷ capacity)`.
///
/// This is processor sharing over `capacity` workers: up to `capacity` requests in flight each take `base`; beyond
/// that the backend's throughput stays at its maximum, `capacity ÷ base` per second, and every request in flight
/// slows down in proportion, so the latency grows linearly with the excess. The demo backend answers after
/// `latency(inflight:)` evaluated with the number of requests in flight when a request arrives (counting it), which
/// approximates the same model; the adaptive-concurrency simulation in the tests evaluates it exactly (each request
/// in flight progresses at `min(1, capacity ÷ inflight)` of full speed).
public struct LoadLatencyModel: Sendable, Hashable {
    /// The uncongested latency: what a request takes while at most `capacity` requests are in flight.
    public let base: Duration
    /// How many requests the backend serves in parallel at full speed.
    public let capacity: Int

    public init(base: Duration, capacity: Int) {
        precondition(base > .zero, "the base latency must be positive")
        precondition(capacity >= 1, "the capacity is at least one request")
        self.base = base
        self.capacity = capacity
    }

    /// The latency with `inflight` requests in flight (the one being timed included): `base` up to `capacity`,
    /// then `base × inflight ÷ capacity`.
    public func latency(inflight: Int) -> Duration {
        guard inflight > capacity else { return base }
        // Multiply before dividing: Duration's integer arithmetic is exact (to the attosecond) this way round.
        return base * inflight / capacity
    }

    /// The most requests per second the backend completes: `capacity ÷ base`, reached at `inflight ≥ capacity`.
    public var maxThroughput: Double { Double(capacity) / base.secondsDouble }
}
