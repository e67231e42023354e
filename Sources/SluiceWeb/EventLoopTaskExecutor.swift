import NIOCore

/// A `TaskExecutor` that runs jobs on one event loop: async handlers started with it as their preference run on the
/// connection's loop thread, between its I/O, and return to it after every `await` (nonisolated code), so a request
/// costs no thread hop. One per connection that runs an async handler.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
