/// The share of its weight a server gets while it warms up after becoming healthy (slow start).
///
/// Linear from `minimumScale` at the moment it became healthy to 1.0 at the end of the window:
/// `scale = minimumScale + (1 − minimumScale) × elapsed ÷ window`, 1.0 from then on and when the window is zero.
/// The floor keeps a warming server from being starved entirely (a weight of 0 would never let it warm up).
/// Envoy's variant with aggression 1 is `max(elapsed ÷ window, minimumScale)`, flat at the floor for the first
/// tenth of the window; the linear ramp from the floor has no such step.
struct SlowStart: Sendable, Equatable {
    /// The scale at the start of the window, in `0...1` (Envoy's `min_weight_percent`, default 10%).
    let minimumScale: Double

    init(minimumScale: Double = 0.1) {
        precondition(minimumScale >= 0 && minimumScale <= 1)
        self.minimumScale = minimumScale
    }

    /// The weight multiplier for a server that became healthy at `becameHealthy`. Before that instant (a clock
    /// step backwards) it is the floor.
    func scale(since becameHealthy: Duration, now: Duration, window: Duration) -> Double {
        guard window > .zero else { return 1 }
        let elapsed = now - becameHealthy
        if elapsed >= window { return 1 }
        if elapsed <= .zero { return minimumScale }
        return minimumScale + (1 - minimumScale) * (elapsed / window)
    }
}
