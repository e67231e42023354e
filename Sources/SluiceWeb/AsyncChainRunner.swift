/// Runs the async part of a connection's chains, one request after another, in one task that waits between them.
///
/// A task made per request (created, started with its executor preference, completed and freed) cost some 3,500
/// instructions, more than a small answer's own work. A connection serves its requests one at a time anyway
/// (`RequestGuard` holds the next one back until the answer is out), so one task can serve them all: it waits for
/// the next request on a continuation, which `start` resumes. The task runs on the connection's loop (its executor
/// preference), and is started immediately on the first request, so a first handler that never waits answers
/// within the read that brought its request.
///
/// Cancelling a request's async part (`Timeout`, the client gone) cancels the task that runs it, for good: the
/// runner gives that task up, and the next request starts a new one. The given-up task ends once the cancelled
/// handler returns.
///
/// Loop-bound, like `Context` (and `@unchecked Sendable` on the same promise): its task runs on the connection's
/// loop, and everything else calls it from there.
final class AsyncChainRunner: @unchecked Sendable {
    private enum State {
        /// No task: the next request starts one.
        case idle
        /// The task is running a request's chain; requests that come meanwhile (delivered while its answer was
        /// written) wait in `queued`.
        case running
        /// The task waits for the next request.
        case waiting(UnsafeContinuation<Context?, Never>)
    }

    private let executor: EventLoopTaskExecutor
    /// Whether the task waits for a next request; a runner for one request (the test client's) lets it end.
    private let waitsForNext: Bool
    @exclusivity(unchecked) private var state = State.idle
    @exclusivity(unchecked) private var queued: [Context] = []
    /// The serving task, once `Task.immediate` has returned it.
    @exclusivity(unchecked) private var task: Task<Void, Never>?
    /// Which task serves: a given-up task sees it changed and ends.
    @exclusivity(unchecked) private var generation = 0
    /// The request whose chain the current task is running (only the current task sets it).
    @exclusivity(unchecked) private var serving: Context?

    init(executor: EventLoopTaskExecutor, waitsForNext: Bool = true) {
        self.executor = executor
        self.waitsForNext = waitsForNext
    }

    /// Runs `c`'s chain from where its synchronous part stopped.
    func start(_ c: Context) {
        c.runner = self
        switch state {
        case .waiting(let next):
            state = .running
            executor.resumeInline { next.resume(returning: c) }
        case .running:
            queued.append(c)
        case .idle:
            state = .running
            generation += 1
            queued.append(c)
            let generation = self.generation
            // The task takes its requests from `queued`, not from its closure, which would keep the first one (and
            // its body) for as long as the connection lives.
            let started = Task.immediate(executorPreference: executor) { await self.serve(generation: generation) }
            guard generation == self.generation else {
                // Given up during its immediate part (cancelled, or the connection ended): cancel it now.
                started.cancel()
                return
            }
            task = started
        }
    }

    /// Cancels `c`'s async part if its chain is still running, and gives its task up.
    func cancel(_ c: Context) {
        guard serving === c else { return }
        task?.cancel()  // nil during the task's immediate part: `start` cancels it once it has the handle
        giveUp()
        // Requests that came meanwhile start in a new task.
        let waiting = queued
        queued = []
        for next in waiting { start(next) }
    }

    /// The connection is gone: a waiting task ends, a running one is cancelled.
    func finish() {
        switch state {
        case .waiting(let next):
            giveUp()
            next.resume(returning: nil)
        case .running:
            task?.cancel()
            giveUp()
        case .idle:
            break
        }
        queued = []
    }

    private func giveUp() {
        generation += 1
        state = .idle
        task = nil
        serving = nil
    }

    /// The task's loop. It runs on the connection's loop through the task's executor preference; the executor
    /// checks Swift makes after each `await` (a status-record lock each, with a preference) are most of what an
    /// async request still costs over a synchronous one.
    private func serve(generation: Int) async {
        while generation == self.generation {
            let c: Context
            if !queued.isEmpty {
                c = queued.removeFirst()
            } else if !waitsForNext {
                giveUp()
                return
            } else if let next = await withUnsafeContinuation({ self.state = .waiting($0) }) {
                c = next
            } else {
                return  // the connection ended (`finish`)
            }
            serving = c
            await c.runSuspendedChain()
            if !c.pending { c.sendIfUnanswered() }
            if generation == self.generation { serving = nil }
        }
    }
}
