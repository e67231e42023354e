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
        let (decision, flushAt) = state.withLockedValue { state -> (RepeatedEvents<Key>.Decision, Duration?) in
            let decision = state.events.record(key, now: now)
            guard decision == .suppress, !state.flushScheduled, eventLoop != nil else { return (decision, nil) }
            state.flushScheduled = true
            return (decision, state.events.nextDue)
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
        if let flushAt { scheduleFlush(at: flushAt, now: now) }
    }

    private func scheduleFlush(at instant: Duration, now: Duration) {
        guard let eventLoop else { return }
        eventLoop.scheduleTask(in: TimeAmount(max(instant - now, .milliseconds(1)))) { self.flush() }
    }

    /// Writes the summaries that are due; schedules itself again while some event is still being counted.
    func flush() {
        let now = Self.now()
        let (due, next) = state.withLockedValue { state in
            let due = state.events.due(now: now)
            // Occurrences still being counted (a noisy key's new window): look again when that window ends; keys
            // just summarised are looked at once more, to be forgotten if they went quiet.
            let next = state.events.nextDue ?? (due.isEmpty ? nil : now + state.events.window)
            state.flushScheduled = next != nil
            return (due, next)
        }
        for summary in due { write(summary.key, count: summary.count, over: now - summary.since) }
        if let next { scheduleFlush(at: next, now: now) }
    }

    private func write(_ key: Key, count: Int, over span: Duration) {
        let seconds = Double(span.components.seconds) + Double(span.components.attoseconds) / 1e18
        let text = seconds < 0.95 ? "\(Int(seconds * 1000))ms" : "\(Int(seconds.rounded()))s"
        logger.log(
            level: key.level, "\(key.event): \(count) more in the last \(text)",
            metadata: [key.subject: "\(key.value)", "repeated": "\(count)"])
    }
}
