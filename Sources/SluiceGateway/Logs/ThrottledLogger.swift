import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Logs events that can repeat thousands of times a second under failure (connect failed, server ejected or taken
/// out, request limited) once, then as one summary line per second per event and subject (`RepeatedEvents`).
/// Shared by every event loop; the lock is taken only when such an event happens.
final class ThrottledLogger: Sendable {
    struct Key: Hashable, Sendable {
        let level: Logger.Level
        let event: String
        /// What the event is about, e.g. `server` and `10.0.1.10:8081`.
        let subject: String
        let value: String
    }

    let logger: Logger
    /// Where the summary of a window that ended quietly is written; nil: only when the event next happens.
    private let eventLoop: (any EventLoop)?
    private let state: NIOLockedValueBox<State>

    private struct State {
        var events: RepeatedEvents<Key>
        var flushScheduled = false
    }

    init(logger: Logger, eventLoop: (any EventLoop)?, window: Duration = .seconds(1)) {
        self.logger = logger
        self.eventLoop = eventLoop
        self.state = NIOLockedValueBox(State(events: RepeatedEvents(window: window)))
    }

    private static func now() -> Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    /// Logs `event` about `subject` = `value`, or counts it for the summary.
    func log(
        _ level: Logger.Level, _ event: String, subject: String, value: String,
        metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        guard logger.logLevel <= level else { return }
        let key = Key(level: level, event: event, subject: subject, value: value)
        let now = Self.now()
        let (decision, scheduleFlush, window) = state.withLockedValue { state in
            let decision = state.events.record(key, now: now)
            var schedule = false
            if decision == .suppress && !state.flushScheduled && eventLoop != nil {
                state.flushScheduled = true
                schedule = true
            }
            return (decision, schedule, state.events.window)
        }
        switch decision {
        case .log:
            var metadata = metadata()
            metadata[subject] = "\(value)"
            logger.log(level: level, "\(event)", metadata: metadata)
        case .summarize(let count, let since):
            write(key, count: count, over: now - since)
        case .suppress:
            break
        }
        if scheduleFlush, let eventLoop {
            eventLoop.scheduleTask(in: TimeAmount(window)) { self.flush() }
        }
    }

    /// Writes the summaries that are due; schedules itself again while some event is still being counted.
    func flush() {
        let now = Self.now()
        let (due, again, window) = state.withLockedValue { state in
            let due = state.events.due(now: now)
            // Occurrences still being counted (a noisy key's new window): look again when it ends.
            state.flushScheduled = !due.isEmpty || state.events.hasPending
            return (due, state.flushScheduled, state.events.window)
        }
        for summary in due { write(summary.key, count: summary.count, over: now - summary.since) }
        if again, let eventLoop { eventLoop.scheduleTask(in: TimeAmount(window)) { self.flush() } }
    }

    private func write(_ key: Key, count: Int, over span: Duration) {
        let seconds = Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18
        let text = seconds < 10 ? String(Int(seconds.rounded(.up))) : String(Int(seconds))
        logger.log(
            level: key.level, "\(key.event): \(count) more in the last \(text)s",
            metadata: [key.subject: "\(key.value)", "repeated": "\(count)"])
    }
}
