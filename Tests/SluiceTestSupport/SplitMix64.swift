public import SluiceTraffic

/// A small deterministic random generator (SplitMix64), so that a failing randomized test replays from its seed:
/// the same generator the gateway balances with.
public typealias SplitMix64 = SplitMix64Generator
