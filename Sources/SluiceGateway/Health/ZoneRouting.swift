/// Zone-aware routing: keep requests in the gateway's own zone while that zone has its share of the upstream's
/// healthy capacity, spill the shortfall to the other zones, and give up on health entirely in panic
/// (after Envoy's zone-aware routing and panic threshold).
///
/// With `Z` the number of distinct zones among the servers, `L` the healthy servers in the local zone and `H` the
/// healthy servers in the pool, in this order:
/// 1. Panic: if `H ÷ servers < panicThreshold`, balance over every server, healthy or not (`.all(_, panic: true)`):
///    with most of the pool marked down, the marks are more likely wrong than the servers.
/// 2. No preference (`.all(healthy, panic: false)`) when there is no local zone, or fewer than `zoneMinSize`
///    servers (healthy or not) in it.
/// 3. Otherwise the local zone is expected to carry `1 ÷ Z` of the traffic — Sluice has no view of its own fleet,
///    so it assumes the gateways are spread evenly over the zones (Envoy uses the real share of its fleet). Its
///    healthy capacity share is `L ÷ H`. If `L ÷ H ≥ 1 ÷ Z`, i.e. `L × Z ≥ H`, route locally (`.local`).
///    Else route locally with probability `p = (L ÷ H) ÷ (1 ÷ Z) = L × Z ÷ H`, computed as that integer product
///    over `H` so that simple cases are exact, and to the healthy servers of the other zones with `1 − p`.
///    Balancing evenly over that remote set sends each other zone traffic in proportion to its healthy capacity
///    (Envoy instead spreads the spill in proportion to each zone's *surplus* over its fleet share).
///
/// Servers without a zone are never local and do not count toward `Z`, but they are remote capacity.
/// Priorities and backups are out of scope.
struct ZoneRouting: Sendable, Equatable {
    let localZone: String?
    /// The local zone needs at least this many servers for the preference to apply. (Envoy's `min_cluster_size`,
    /// default 6, is the size of the whole upstream instead.)
    let zoneMinSize: Int
    /// A fraction in `0...1`; 0 disables panic (Envoy's `healthy_panic_threshold`, default 50%).
    let panicThreshold: Double

    init(localZone: String?, zoneMinSize: Int = 1, panicThreshold: Double = 0.5) {
        precondition(zoneMinSize >= 0)
        precondition(panicThreshold >= 0 && panicThreshold <= 1, "the panic threshold is a fraction")
        self.localZone = localZone
        self.zoneMinSize = zoneMinSize
        self.panicThreshold = panicThreshold
    }

    /// The plan for the pool described by `zones` and `healthy` (same length, one entry per server; `healthy`
    /// already excludes ejected servers).
    func plan(zones: [String?], healthy: [Bool]) -> ZonePlan {
        precondition(zones.count == healthy.count, "one zone and one health flag per server")
        let healthyServers = healthy.indices.filter { healthy[$0] }
        if Double(healthyServers.count) < panicThreshold * Double(healthy.count) {
            return .all(Array(healthy.indices), panic: true)
        }
        // Nothing healthy and panic off (threshold 0): nothing to prefer.
        guard let localZone, !healthyServers.isEmpty else { return .all(healthyServers, panic: false) }
        let localCount = zones.count(where: { $0 == localZone })
        guard localCount > 0, localCount >= zoneMinSize else { return .all(healthyServers, panic: false) }

        let local = healthyServers.filter { zones[$0] == localZone }
        let remote = healthyServers.filter { zones[$0] != localZone }
        let zoneCount = Set(zones.compactMap { $0 }).count
        if local.count * zoneCount >= healthyServers.count { return .local(local) }
        let probability = Double(local.count * zoneCount) / Double(healthyServers.count)
        return .spill(local: local, localProbability: probability, remote: remote)
    }

    /// Draws this request's eligible servers from `plan`: a mask of `serverCount` flags.
    func choose(_ plan: ZonePlan, serverCount: Int, using rng: inout some RandomNumberGenerator) -> [Bool] {
        let chosen: [Int]
        switch plan {
        case .all(let servers, _): chosen = servers
        case .local(let servers): chosen = servers
        case .spill(let local, let probability, let remote):
            // A draw in 0..<1 is below 1 always and below 0 never, so the two ends are exact.
            chosen = Double.random(in: 0..<1, using: &rng) < probability ? local : remote
        }
        var mask = Array(repeating: false, count: serverCount)
        for server in chosen { mask[server] = true }
        return mask
    }
}
