public import NIOCore
public import NIOHTTP1
import SluiceServer

/// A deadline for the answer: when `amount` has passed and no answer went out, the request's task is cancelled (an
/// async handler sees `Task.isCancelled`, a `Task.sleep` or a cancellable call throws) and the client gets `status`
/// (503 by default, as Go's `http.TimeoutHandler`). `c.deadline` carries the deadline to outbound calls, so a call
/// made for the request gives up when the request would. An answer finished after the deadline is dropped.
public func Timeout(_ amount: TimeAmount, status: HTTPResponseStatus = .serviceUnavailable) -> Handler {
    { c in
        let deadline = NIODeadline.now() + amount
        if let earlier = c.deadline, earlier < deadline {
            try c.next()
            return
        }
        c.deadline = deadline
        let timer = c.eventLoop.scheduleTask(deadline: deadline) {
            guard !c.answered else { return }
            c.cancelAsyncPart()
            c.abort()
            c.pending = false
            c.errorAnswer(status, "the request took longer than \(amount.text)")
            c.sendIfUnanswered()
        }
        c.onFinish { _ in timer.cancel() }
        try c.next()
    }
}
