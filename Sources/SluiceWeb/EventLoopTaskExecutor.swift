import NIOCore

/// A `TaskExecutor` that runs jobs on one event loop: async handlers started with it as their preference run on the
/// connection's loop thread, between its I/O, and return to it after every `await` (nonisolated code), so a request
/// costs no thread hop. One per connection that runs an async handler.
///
/// One job may run at once instead of through the loop's task queue: the connection's `AsyncChainRunner` resuming
/// its task with the next request, from `channelRead` (`resumeInline`). That is what a task started with
/// `Task.immediate` would do, and it saves the trip through the queue (a thousand instructions a request). Every
/// other job (a task resumed by a promise, a cancellation, a body part) is queued on the loop, so it never runs in
/// the middle of the code that resumed it.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop
    /// Set by `resumeInline` for the one enqueue it causes. Touched on the loop only.
    nonisolated(unsafe) private var inlineNext = false

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    /// Calls `resume`, which enqueues a task on this executor, and runs that task at once if the caller is on the
    /// loop and in no task.
    func resumeInline(_ resume: () -> Void) {
        inlineNext = loop.inEventLoop && withUnsafeCurrentTask(body: { $0 == nil })
        resume()
        inlineNext = false
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Only the loop's thread may take the flag: a job enqueued from elsewhere meanwhile must not see it.
        if loop.inEventLoop, inlineNext {
            inlineNext = false
            job.runSynchronously(on: asUnownedTaskExecutor())
            return
        }
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
