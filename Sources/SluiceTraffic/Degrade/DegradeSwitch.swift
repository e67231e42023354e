import Synchronization

/// A manual degrade switch for the admin API: while on, the gateway treats the route as degraded whatever its
/// `DegradeRule` says (Sentinel's equivalent is loading a rule that always trips). Lock-free.
public final class DegradeSwitch: Sendable {
    private let flag: Atomic<Bool>

    public init(on: Bool = false) {
        self.flag = Atomic(on)
    }

    public var isOn: Bool { flag.load(ordering: .acquiring) }

    /// Turns the switch on or off; returns whether it was on before.
    @discardableResult
    public func set(_ on: Bool) -> Bool {
        flag.exchange(on, ordering: .acquiringAndReleasing)
    }
}
