import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unix signals as an async sequence, for the daemon's main loop.
///
/// The signals are set to `SIG_IGN` first and then watched with dispatch sources, so there is no moment when a
/// signal (a HUP from `systemctl reload` sent early) would kill the process with its default action.
public enum SignalStream {
    public static func watch(_ signals: [Int32]) -> AsyncStream<Int32> {
        for number in signals { signal(number, SIG_IGN) }
        return AsyncStream { continuation in
            let sources = signals.map { number in
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { continuation.yield(number) }
                source.resume()
                return source
            }
            let box = SourcesBox(sources)
            continuation.onTermination = { _ in box.cancel() }
        }
    }
}

/// Keeps the dispatch sources alive for as long as the stream, and cancels them with it.
private final class SourcesBox: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]  // only touched again in `cancel`, which dispatch serializes

    init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }

    func cancel() { for source in sources { source.cancel() } }
}
