public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
public import SluiceRouter
public import SluiceServer

/// The framework's entry point (Gin's `*gin.Engine`): register middleware and routes, then `start` it.
///
/// ```swift
/// let engine = Engine.default()
/// try engine.get("/ping") { c in try c.json(.ok, ["message": "pong"]) }
/// let server = try await engine.start(ServerConfiguration(port: 8080))
/// ```
///
/// Routes and middleware are composed once, at registration and at `start`; a request only looks its chain up.
public final class Engine: RouterGroup {
    /// Options for the route table (trailing-slash and fixed-path redirects).
    public var routerOptions: RouterOptions
    /// Answer 405 with `Allow` when the path exists for other methods (otherwise such requests get 404).
    public var handleMethodNotAllowed = true
    public var logger: Logger
    /// The instance's name and zone, reported by `health()`.
    public var instance = InstanceInfo()
    /// Fails the readiness endpoint once draining starts.
    public let readiness = Readiness()
    private var noRouteHandlers: [HandlerStep] = []
    private var noMethodHandlers: [HandlerStep] = []

    public init(logger: Logger = Logger(label: "sluice.web"), routerOptions: RouterOptions = RouterOptions()) {
        self.logger = logger
        self.routerOptions = routerOptions
        super.init(table: RouteTable(), prefix: "", middleware: [])
    }

    /// An engine with the usual middleware: `RequestID`, `AccessLog` and `Recovery` (Gin's `gin.Default()`).
    public static func `default`(logger: Logger = Logger(label: "sluice.web")) -> Engine {
        let engine = Engine(logger: logger)
        engine.use(RequestID(), AccessLog(logger: logger), Recovery(logger: logger))
        return engine
    }

    /// Handlers for requests that match no route; they run after the engine's middleware. Default: 404.
    public func noRoute(_ handlers: Handler...) { noRouteHandlers = handlers.map(HandlerStep.sync) }

    /// Handlers for paths that exist only for other methods; they run after the engine's middleware. Default: 405
    /// with `Allow`.
    public func noMethod(_ handlers: Handler...) { noMethodHandlers = handlers.map(HandlerStep.sync) }

    /// Freezes the routes into an immutable responder that serves requests from any event loop.
    public func makeResponder() -> Responder {
        Responder(
            router: table.builder.build(options: routerOptions),
            middleware: middleware,
            noRoute: noRouteHandlers,
            noMethod: noMethodHandlers,
            handleMethodNotAllowed: handleMethodNotAllowed,
            hasStreamingRoutes: table.hasStreamingRoutes,
            logger: logger
        )
    }

    /// Freezes the routes and starts an HTTP server for them.
    public func start(
        _ configuration: ServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPServer {
        try await makeResponder().start(configuration, group: group)
    }
}

/// The frozen form of an `Engine`: the compiled route table and the chains for misses. `Sendable`.
public struct Responder: Sendable {
    let router: Router<HandlerChain>
    let middleware: [HandlerStep]
    let noRoute: [HandlerStep]
    let noMethod: [HandlerStep]
    let handleMethodNotAllowed: Bool
    /// Some route streams its request body (looked up at the request's head).
    let hasStreamingRoutes: Bool
    let logger: Logger

    /// Starts an HTTP server for these routes.
    public func start(_ configuration: ServerConfiguration, group: any EventLoopGroup) async throws -> HTTPServer {
        // `EngineChannelHandler` checks every head it writes (`ResponseHeaderCheck`): no validator handler needed.
        var settings = configuration
        settings.validateOutboundHeaders = false
        let plain = if case .plain = configuration.transport { true } else { false }
        let server = HTTPServer(configuration: settings, group: group, logger: logger) { channel in
            // The server's handlers are in: the guard is the last of them, so this handler goes right after it.
            let link = try channel.pipeline.syncOperations.handler(type: RequestGuard.self)
            try channel.pipeline.syncOperations.addHandler(
                EngineChannelHandler(responder: self, fileRegions: plain, link: link))
        }
        try await server.start()
        return server
    }

    /// The channel handler that serves this responder's routes on one connection, for servers that build their own
    /// pipeline (add it after `HTTPServer.configureHTTP`'s handlers). Pass the connection's `RequestGuard` as
    /// `directlyAfter` when the handler goes right after it (nothing between them): its answers then go to the guard
    /// directly, not through the pipeline.
    public func makeHandler(directlyAfter requestGuard: RequestGuard? = nil) -> any ChannelHandler {
        EngineChannelHandler(responder: self, link: requestGuard)
    }

    /// A request's chain, parameters and matched route. A struct, not a tuple: a tuple type kept in a stored
    /// optional was copied through the runtime's generic value witnesses, some 250 instructions a copy.
    struct Resolution {
        let steps: [HandlerStep]
        let parameters: Parameters
        let route: HandlerChain?
    }

    /// Looks the request up and returns its chain, parameters and matched route.
    func resolve(method: HTTPMethod, path: Substring) -> Resolution {
        switch router.lookup(method.rawValue, path) {
        case .found(let chain, let parameters):
            return Resolution(steps: chain.steps, parameters: parameters, route: chain)
        case .redirect(let location):
            let status: HTTPResponseStatus = method == .GET || method == .HEAD ? .movedPermanently : .permanentRedirect
            return Resolution(steps: middleware + [Self.redirect(status, location)], parameters: Parameters(), route: nil)
        case .methodNotAllowed(let allowed):
            if method == .HEAD, case .found(let chain, let parameters) = router.lookup("GET", path) {
                return Resolution(steps: chain.steps, parameters: parameters, route: chain)
            }
            guard handleMethodNotAllowed else {
                return Resolution(steps: middleware + notFound, parameters: Parameters(), route: nil)
            }
            let steps = middleware + [Self.allow(allowed)] + (noMethod.isEmpty ? [Self.methodNotAllowed] : noMethod)
            return Resolution(steps: steps, parameters: Parameters(), route: nil)
        case .notFound:
            return Resolution(steps: middleware + notFound, parameters: Parameters(), route: nil)
        }
    }

    /// Runs `c`'s chain. Returns true when the answer is ready to send now; otherwise the answer goes to `sink` later
    /// (an async handler's task, `respondLater`, a stream).
    func run(_ c: Context, sink: any ResponseSink) -> Bool {
        do {
            try c.next()
        } catch {
            c.answer(error)
        }
        if c.resumeIndex != nil, !c.isAborted {
            c.connection = sink
            // One task per connection serves the async parts in turn (`AsyncChainRunner`); a new one is started
            // immediately, so a handler that never waits answers in this call.
            sink.asyncRunner.start(c)
            return false
        }
        if c.pending {
            c.connection = sink
            return false
        }
        return true
    }

    private var notFound: [HandlerStep] { noRoute.isEmpty ? [Self.notFound] : noRoute }

    private static let notFound = HandlerStep.sync { c in c.text(.notFound, "404 page not found\n") }
    private static let methodNotAllowed = HandlerStep.sync { c in c.text(.methodNotAllowed, "405 method not allowed\n") }

    private static func allow(_ methods: [String]) -> HandlerStep {
        let value = methods.joined(separator: ", ")
        return .sync { c in
            c.setHeader("allow", value)
            try c.next()
        }
    }

    private static func redirect(_ status: HTTPResponseStatus, _ location: String) -> HandlerStep {
        .sync { c in
            var target = location
            if !c.queryString.isEmpty { target += "?" + c.queryString }
            c.setHeader("location", target)
            c.status(status)
        }
    }
}
