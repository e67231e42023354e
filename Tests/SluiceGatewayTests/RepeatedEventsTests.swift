import Logging
import NIOPosix
import NIOConcurrencyHelpers
import Testing

@testable import SluiceGateway

/// A repeated event is logged once, then summarised at most once a window per key.
@Suite struct RepeatedEventsTests {
    typealias Events = RepeatedEvents<String>

    @Test func theFirstIsLoggedTheRestCountedAndSummarisedOncePerWindow() {
        var events = Events(window: .seconds(1))
        #expect(events.record("a", now: .milliseconds(0)) == .log)
        for ms in stride(from: 1, to: 1000, by: 1) {
            #expect(events.record("a", now: .milliseconds(Int64(ms))) == .suppress)
        }
        #expect(events.due(now: .milliseconds(999)).isEmpty, "the window is not over")
        #expect(events.due(now: .milliseconds(1000)) == [.init(key: "a", count: 999, since: .zero)])
        #expect(events.due(now: .milliseconds(1500)).isEmpty, "nothing new")
        #expect(events.record("a", now: .milliseconds(1600)) == .suppress, "still in the window the summary opened")
        #expect(events.record("a", now: .milliseconds(2100)) == .summarize(count: 2, since: .milliseconds(1000)))
    }

    @Test func aSteadyStreamGivesOneLineThenOneSummaryPerWindow() {
        var events = Events(window: .seconds(1))
        var lines = 0
        var counted = 0
        for ms in stride(from: Int64(0), to: 10_000, by: 1) {  // 10,000 events over 10 s, no flush timer
            switch events.record("connect failed 10.0.0.1", now: .milliseconds(ms)) {
            case .log: lines += 1; counted += 1
            case .summarize(let count, _): lines += 1; counted += count
            case .suppress: break
            }
        }
        counted += events.due(now: .seconds(11)).reduce(0) { $0 + $1.count }
        #expect(lines == 10, "one line, then one summary a second")
        #expect(counted == 10_000, "every occurrence is in a line or a summary")
    }

    @Test func aQuietWindowMakesTheNextOneNewsAgainAndForgetsTheKey() {
        var events = Events(window: .seconds(1))
        #expect(events.record("a", now: .seconds(0)) == .log)
        #expect(events.due(now: .seconds(2)).isEmpty)
        #expect(events.trackedKeys == 0)
        #expect(events.record("a", now: .seconds(3)) == .log)
        #expect(events.record("a", now: .seconds(5)) == .log, "a window with nothing suppressed")
    }

    @Test func keysAreIndependentAndBounded() {
        var events = Events(window: .seconds(1), maxKeys: 2)
        #expect(events.record("a", now: .zero) == .log)
        #expect(events.record("b", now: .zero) == .log)
        #expect(events.record("a", now: .milliseconds(1)) == .suppress)
        #expect(events.record("c", now: .milliseconds(1)) == .log, "past the bound, logged as it is")
        #expect(events.record("c", now: .milliseconds(2)) == .log)
        #expect(events.trackedKeys == 2)
    }

    @Test func theThrottledLoggerWritesTensOfLinesForTensOfThousandsOfEvents() {
        let recorder = RecordingLogHandler.Store()
        var logger = Logger(label: "test") { _ in RecordingLogHandler(store: recorder) }
        logger.logLevel = .info
        let events = ThrottledLogger(logger: logger, eventLoop: nil)
        for index in 0..<20_000 {
            events.log(.warning, "upstream connect failed", subject: "server", value: "10.0.0.\(index % 2):80")
        }
        events.log(.debug, "below the level", subject: "server", value: "x")
        let lines = recorder.lines
        #expect(lines.count == 2, "one line per server: \(lines)")
        #expect(Set(lines.map(\.server)) == ["10.0.0.0:80", "10.0.0.1:80"])
    }
}

extension RepeatedEventsTests {
    @Test func aSummaryIsWrittenWhenTheWindowEndsEvenIfTheEventStops() async throws {
        let recorder = RecordingLogHandler.Store()
        var logger = Logger(label: "test") { _ in RecordingLogHandler(store: recorder) }
        logger.logLevel = .info
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let events = ThrottledLogger(logger: logger, eventLoop: group.next(), window: .milliseconds(200))
        for _ in 0..<100 { events.log(.warning, "upstream connect failed", subject: "server", value: "10.0.0.1:80") }
        #expect(recorder.lines.count == 1)
        for _ in 0..<300 where recorder.lines.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let lines = recorder.lines
        #expect(lines.count == 2)
        #expect(lines.last?.message.hasPrefix("upstream connect failed: 99 more in the last 2") == true, "\(lines)")
        #expect(lines.last?.server == "10.0.0.1:80")
        try await group.shutdownGracefully()
    }
}

/// Keeps what was logged, for tests.
struct RecordingLogHandler: LogHandler {
    final class Store: Sendable {
        struct Line: Sendable {
            let message: String
            let server: String?
        }
        private let box = NIOLockedValueBox<[Line]>([])
        var lines: [Line] { box.withLockedValue { $0 } }
        func append(_ line: Line) { box.withLockedValue { $0.append(line) } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.append(.init(message: "\(event.message)", server: event.metadata?["server"].map { "\($0)" }))
    }
}
