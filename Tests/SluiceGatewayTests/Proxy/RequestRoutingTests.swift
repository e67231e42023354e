import Logging
import NIOEmbedded
import NIOHTTP1
import SluiceConfig
import Testing

@testable import SluiceGateway

/// The normalise and route phases, without channels: a head and a compiled configuration in, a route or a refusal
/// out.
@Suite struct RequestRoutingTests {
    let state: RuntimeState

    init() throws {
        let config = try ConfigLoader.parse(
            """
            [server]
            listen = 127.0.0.1:0
            [upstream u]
            server = 127.0.0.1:1
            [route users]
            match = /api/users/:id
            methods = GET
            upstream = u
            [route traced]
            match = /debug/*
            upstream = u
            methods = GET,TRACE
            [route other]
            match = /api/v2/*
            upstream = u
            """)
        state = try RuntimeCompiler(previous: [:], group: EmbeddedEventLoop(), logger: Logger(label: "test"))
            .compile(config, generation: 1).state
    }

    func route(_ uri: String, method: HTTPMethod = .GET, host: String? = "x") -> RequestRouting.Result {
        var headers = HTTPHeaders()
        if let host { headers.add(name: "host", value: host) }
        return RequestRouting.route(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers), in: state)
    }

    func routed(_ result: RequestRouting.Result) -> (String, String)? {
        guard case .routed(let route, let uri, _) = result else { return nil }
        return (route.name, uri)
    }

    func refusal(_ result: RequestRouting.Result) -> RequestRouting.Refusal? {
        guard case .refused(let refusal) = result else { return nil }
        return refusal
    }

    @Test func theNormalisedPathIsRoutedAndForwardedWithItsQuery() throws {
        #expect(routed(route("/api/users/42?x=1")).map { [$0.0, $0.1] } == ["users", "/api/users/42?x=1"])
        #expect(routed(route("/api/./v/../users/%34%32?a=..")).map { [$0.0, $0.1] } == ["users", "/api/users/42?a=.."])
        #expect(routed(route("http://x/api/users/7")).map { [$0.0, $0.1] } == ["users", "/api/users/7"], "absolute-form")
    }

    @Test func refusalsSayWhy() {
        #expect(refusal(route("*", method: .OPTIONS)) == .serverOptions)
        #expect(refusal(route("/nothing")) == .notFound)
        #expect(refusal(route("/api/users/42", method: .POST)).map { if case .methodNotAllowed = $0 { true } else { false } } == true)
        #expect(refusal(route("/api/v2/x", method: .TRACE)) == .traceNotAllowed)
        #expect(routed(route("/debug/x", method: .TRACE))?.0 == "traced")
        guard case .badPath = refusal(route("/api/v2/%zz")) else {
            Issue.record("a bad escape was routed")
            return
        }
    }
}
