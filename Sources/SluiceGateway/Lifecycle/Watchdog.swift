public import NIOCore

/// Sends `WATCHDOG=1` only after every event loop has run a task, so that systemd restarts a daemon whose loop is
/// stuck, not just one whose process is alive.
public struct Watchdog: Sendable {
    public let notifier: SystemdNotifier
    public let group: any EventLoopGroup

    public init(notifier: SystemdNotifier, group: any EventLoopGroup) {
        self.notifier = notifier
        self.group = group
    }

    /// Pings until the task is cancelled. Does nothing without `WATCHDOG_USEC`.
    public func run() async {
        guard let interval = notifier.watchdogInterval else { return }
        while !Task.isCancelled {
            let loops = Array(group.makeIterator())
            var allAnswered = true
            for loop in loops {
                do { try await loop.submit {}.get() } catch { allAnswered = false }
            }
            if allAnswered { notifier.watchdog() }
            try? await Task.sleep(for: interval)
        }
    }
}
