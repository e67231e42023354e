/// Keeps a repeated log event readable: the first occurrence is logged, the ones after it within `window` are
/// counted, and the count is logged as one summary line per window (`… 4,512 more in the last 1s`), so a zone
/// outage at full load writes tens of lines, not tens of thousands. Keyed by event and subject (server, route), so
/// one noisy server does not hide another.
///
/// Plain value logic with the time passed in; `ThrottledLogger` puts it behind a lock and a timer.
struct RepeatedEvents<Key: Hashable & Sendable>: Sendable {
    /// What to do with one occurrence.
    enum Decision: Sendable, Equatable {
        /// Log it as it is.
        case log
        /// Counted, to be summarised.
        case suppress
        /// Log one summary line: `count` occurrences (this one included) since `since`; a new window begins.
        case summarize(count: Int, since: Duration)
    }

    /// A summary that is due: `count` occurrences were not logged in the window that began at `since`.
    struct Summary: Sendable, Equatable {
        let key: Key
        let count: Int
        let since: Duration
    }

    private struct Window: Sendable {
        var start: Duration
        var suppressed: Int
    }

    let window: Duration
    /// Distinct keys tracked at most; past it, occurrences of new keys are logged as they are (never lost).
    let maxKeys: Int
    private var windows: [Key: Window] = [:]

    init(window: Duration = .seconds(1), maxKeys: Int = 4096) {
        precondition(window > .zero && maxKeys > 0)
        self.window = window
        self.maxKeys = maxKeys
    }

    var trackedKeys: Int { windows.count }

    /// When the first window holding occurrences not yet summarised ends: when `due` next has a summary.
    var nextDue: Duration? { windows.values.filter { $0.suppressed > 0 }.map { $0.start + window }.min() }

    /// One occurrence of `key` at `now`: log it, count it, or (its window over) log the summary that includes it.
    mutating func record(_ key: Key, now: Duration) -> Decision {
        guard var current = windows[key] else {
            guard windows.count < maxKeys else { return .log }
            windows[key] = Window(start: now, suppressed: 0)
            return .log
        }
        if now - current.start >= window {
            windows[key] = Window(start: now, suppressed: 0)
            // A quiet window: this is news again. Otherwise the summary, this one included.
            return current.suppressed == 0 ? .log : .summarize(count: current.suppressed + 1, since: current.start)
        }
        current.suppressed += 1
        windows[key] = current
        return .suppress
    }

    /// The summaries of windows that have ended by `now`; keys whose window ended quiet are forgotten.
    mutating func due(now: Duration) -> [Summary] {
        var summaries: [Summary] = []
        for (key, current) in windows where now - current.start >= window {
            if current.suppressed > 0 {
                summaries.append(Summary(key: key, count: current.suppressed, since: current.start))
                // Still noisy: a new window starts now, so that a later occurrence is counted, not logged.
                windows[key] = Window(start: now, suppressed: 0)
            } else {
                windows[key] = nil
            }
        }
        return summaries
    }
}
