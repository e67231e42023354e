import Atomics
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceTraffic

/// A route's `mirror`: copies of a share of its requests sent to a shadow upstream, fire and forget (Envoy's
/// `request_mirror_policies`, nginx's `mirror`). A copy leaves once the real request is whole and on its way; its
/// answer is read and dropped, only counted. It never delays or fails the real request: copies beyond
/// `max_in_flight` per event loop, and requests whose body is larger than `max_body` or still streaming, are not
/// mirrored (counted as skipped).
final class RequestMirror: Sendable {
    let upstream: UpstreamPool
    let config: MirrorConfig
    let metrics: FilterMetrics?
    private let inFlight: LoopLocal<Counter>
    let sent = ManagedAtomic(0)
    let answered = ManagedAtomic(0)
    let failed = ManagedAtomic(0)
    let skipped = ManagedAtomic(0)

    private final class Counter: @unchecked Sendable {
        var value = 0
    }

    init(upstream: UpstreamPool, config: MirrorConfig, group: any EventLoopGroup, metrics: FilterMetrics? = nil) {
        self.upstream = upstream
        self.config = config
        self.metrics = metrics
        self.inFlight = LoopLocal(group: group) { _ in Counter() }
    }

    /// Whether this request is drawn for mirroring.
    func draws(using random: inout SplitMix64Generator) -> Bool {
        config.share >= 1 || Double(random.next() % 1_000_000) / 1_000_000 < config.share
    }

    /// Sends a copy of a request: `head` as sent upstream, and the body `parts` received so far (the copy leaves
    /// only when they hold its end, or `whole` says it has no body). Call on `eventLoop`.
    func send(
        head: HTTPRequestHead, parts: [HTTPClientRequestPart], whole: Bool, on eventLoop: any EventLoop,
        allocator: ByteBufferAllocator
    ) {
        let counter = inFlight.value(on: eventLoop)
        var body = allocator.buffer(capacity: 0)
        var whole = whole
        for part in parts {
            switch part {
            case .body(.byteBuffer(let bytes)):
                if body.readableBytes + bytes.readableBytes > config.maxBody { return skip() }
                body.writeImmutableBuffer(bytes)
            case .body:
                return skip()
            case .end:
                whole = true
            case .head:
                break
            }
        }
        guard whole, counter.value < config.maxInFlight,
            let server = upstream.pick(on: eventLoop, excluding: [])
        else { return skip() }
        var copy = head
        copy.headers.remove(name: "transfer-encoding")
        copy.headers.remove(name: "connection")
        copy.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        if body.readableBytes == 0 && !head.method.hasRequestBody { copy.headers.remove(name: "content-length") }
        copy.headers.replaceOrAdd(name: "sluice-mirror", value: "1")
        copy.version = .http1_1
        counter.value += 1
        sent.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.sent)
        Subrequest.send(copy, body: body, to: server, on: eventLoop, timeout: .seconds(10), maxBody: 0)
            .assumeIsolated().whenComplete { [self] result in
                counter.value -= 1
                switch result {
                case .success:
                    answered.wrappingIncrement(ordering: .relaxed)
                    metrics?.record(.answered)
                case .failure:
                    failed.wrappingIncrement(ordering: .relaxed)
                    metrics?.record(.failed)
                }
            }
    }

    private func skip() {
        skipped.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.skipped)
    }
}

extension HTTPMethod {
    /// Methods whose requests usually carry a body (a zero `Content-Length` is still sent for them).
    var hasRequestBody: Bool {
        switch self {
        case .POST, .PUT, .PATCH: true
        default: false
        }
    }
}
