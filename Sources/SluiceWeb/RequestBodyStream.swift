public import NIOCore
public import NIOHTTP1
import SluiceServer

/// A request body as it arrives, in parts (`for try await part in c.bodyStream`), for uploads too large to buffer.
///
/// On routes registered with `streaming(_:_:_:)` the chain starts as soon as the request's head is in, and the body
/// is read from the socket only as fast as the handler consumes it: reads stop while more than a few parts wait
/// (back-pressure), so a slow consumer holds the client back instead of filling memory. On other routes the
/// stream yields the buffered `c.body` once. The server's `maxBodySize` applies to both.
///
/// A handler that answers before the whole body has arrived gets its answer sent, and the connection is closed after
/// it: the rest of the body is not waited for (a refused 2 GB upload costs nothing more).
public struct RequestBodyStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyReadDelegate
    >

    enum Storage: Sendable {
        case buffered(ByteBuffer?)
        case live(Producer)
    }

    let storage: Storage

    public struct AsyncIterator: AsyncIteratorProtocol {
        var buffered: ByteBuffer?
        var live: Producer.AsyncIterator?

        public mutating func next() async throws -> ByteBuffer? {
            if let live { return try await live.next() }
            defer { buffered = nil }
            return buffered
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .buffered(let body): AsyncIterator(buffered: body.flatMap { $0.readableBytes > 0 ? $0 : nil }, live: nil)
        case .live(let producer): AsyncIterator(buffered: nil, live: producer.makeAsyncIterator())
        }
    }

    /// The whole body, up to `limit` bytes; past it a `BindingError` answered 413.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var whole = ByteBuffer()
        for try await var part in self {
            guard whole.readableBytes + part.readableBytes <= limit else {
                throw BindingError(
                    field: nil, problem: "the body is larger than \(limit) bytes", status: .payloadTooLarge)
            }
            whole.writeBuffer(&part)
        }
        return whole
    }

    /// A live stream and the source its connection feeds; `resume` runs (on any thread) when the connection should
    /// read again: the consumer wants more after a pause, or stopped iterating (the rest is then read and dropped).
    static func live(resume: @escaping @Sendable () -> Void) -> (RequestBodyStream, Producer.Source) {
        let made = Producer.makeSequence(
            elementType: ByteBuffer.self, failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
            finishOnDeinit: true,
            delegate: BodyReadDelegate(resume: resume))
        return (RequestBodyStream(storage: .live(made.sequence)), made.source)
    }
}

/// Why a streamed request body ended early, thrown from `c.bodyStream`: the server refused it (too large, too slow,
/// malformed) or the client went away. It is the client's doing, so a handler that lets it through answers with its
/// status (which the server layer has usually sent already) and nothing is logged as a handler failure.
public struct RequestBodyError: HTTPResponseError, Sendable, Equatable {
    public let status: HTTPResponseStatus
    public let message: String

    public init(status: HTTPResponseStatus, message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: any Error) {
        switch error as? HTTPServerError {
        case .requestBodyTooLarge?: self.init(status: .payloadTooLarge, message: "the request body is too large")
        case .requestReadTimeout?: self.init(status: .requestTimeout, message: "the request body came too slowly")
        default: self.init(status: .badRequest, message: "the request body could not be read")
        }
    }
}

/// Tells the connection to read again: the consumer wants more, or is gone.
final class BodyReadDelegate: NIOAsyncSequenceProducerDelegate {
    private let resume: @Sendable () -> Void

    init(resume: @escaping @Sendable () -> Void) { self.resume = resume }

    func produceMore() { resume() }
    func didTerminate() { resume() }
}
