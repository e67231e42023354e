import NIOCore
import NIOHTTP1
import SluiceFilters
import SluiceRouter

// MARK: Phases: filters (access, CORS preflight, rewrite; auth; direct answers; response headers)

extension ProxyHandler {
    /// After routing: access control, a CORS preflight, the path rewrite. Returns the target to forward, or nil
    /// when the gateway answered (403, the preflight, a rewrite's redirect).
    func filterRouted(_ filters: RouteFilters, head: HTTPRequestHead, uri: String, context: ChannelHandlerContext) -> String? {
        if filters.hasAccess, !permitted(filters, address: resolvedClientAddress(head: head, context: context)) {
            shared.stats.accessDenied.wrappingIncrement(ordering: .relaxed)
            filters.metrics?.denied.increment()
            answer(.forbidden, "access denied\n")
            return nil
        }
        if head.method == .OPTIONS, let cors = filters.cors {
            let origin = head.headers.first(name: "origin")
            let requestMethod = head.headers.first(name: "access-control-request-method")
            if CORSPolicy.isPreflight(method: head.method.rawValue, origin: origin, requestMethod: requestMethod),
                let origin, let requestMethod
            {
                let vary = ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
                guard let fields = cors.preflight(
                    origin: origin, requestMethod: requestMethod,
                    requestHeaders: head.headers.first(name: "access-control-request-headers"))
                else {
                    answer(.forbidden, "CORS preflight refused\n", extra: [vary])
                    return nil
                }
                var extra = fields.map { ($0.name, $0.value) }
                if !extra.contains(where: { $0.0.lowercased() == "vary" }) { extra.append(vary) }
                answer(.noContent, contentType: "text/plain; charset=utf-8", body: [], extra: extra, filtered: false)
                return nil
            }
        }
        if head.method == .OPTIONS, let methods = route?.corsOnlyOptions {
            // Found for OPTIONS only so that preflights get here: anything else is not served.
            answer(.methodNotAllowed, "method not allowed\n", extra: [("allow", methods.joined(separator: ", "))])
            return nil
        }
        guard filters.hasRewrite else { return uri }
        let question = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = question.map { uri[..<$0] } ?? uri[...]
        let query = uri[(question ?? uri.endIndex)...]
        // The parameters are read only by a rewrite that names one (not copied for every request).
        switch filters.rewrite(path, params: { [self] in params?[$0] }) {
        case .path(let rewritten):
            return query.isEmpty ? rewritten : rewritten + query
        case .redirect(let status, let location):
            let target = location.hasPrefix("/") && !query.isEmpty ? location + query : location
            answer(
                HTTPResponseStatus(statusCode: status), "redirecting to \(target)\n",
                extra: [("location", Authenticator.headerSafe(target))])
            return nil
        }
    }

    /// `allow`/`deny` for `address`, remembered for the connection's next requests.
    private func permitted(_ filters: RouteFilters, address: String) -> Bool {
        let id = ObjectIdentifier(filters)
        if let last = lastAccess, last.rules == id, last.address == address { return last.permitted }
        let permitted = filters.permits(address)
        lastAccess = (id, address, permitted)
        return permitted
    }

    /// Authentication (between routing and the gates), then the rest of the request's setup.
    func runAuth(_ auth: Authenticator, head clientHead: HTTPRequestHead, context: ChannelHandlerContext) {
        let query = auth.readsQuery ? Self.query(of: clientHead.uri) : Substring()
        if let sources = auth.apiKeySources {
            // Read once; a key the connection sent before passes as it did (compared with the key it sent, not with
            // the store's secrets).
            let key = Authenticator.credential(sources, head: clientHead, query: query)
            if let key, let last = lastKey, last.auth == ObjectIdentifier(auth), key == last.key {
                auth.recordPass()
                return authenticated(.pass(last.pass))
            }
            let verdict = auth.checkAPIKey(key)
            if case .pass(let pass) = verdict, let key { lastKey = (ObjectIdentifier(auth), key, pass) }
            return authenticated(verdict)
        }
        let decision = auth.authenticate(
            clientHead, query: query, clientIP: resolvedClientAddress(head: clientHead, context: context),
            scheme: secure ? "https" : "http", on: context.eventLoop)
        switch decision {
        case .now(let verdict):
            authenticated(verdict)
        case .later(let future):
            let expected = sequence
            future.assumeIsolated().whenComplete { [self] result in
                guard expected == sequence, machine.phase == .gating else { return }
                switch result {
                case .success(let verdict): authenticated(verdict)
                case .failure: answer(.serviceUnavailable, "authentication unavailable\n")
                }
            }
        }
    }

    private func authenticated(_ verdict: Authenticator.Verdict) {
        switch verdict {
        case .pass(let pass):
            identity = pass.identity
            guard let filters = route?.filters, var head = upstreamHead else { return requestReady() }
            // Out of the handler while it changes: in place, not copied, and `variable` reads the handler freely.
            upstreamHead = nil
            for (name, value) in pass.headers { head.headers.replaceOrAdd(name: name, value: value) }
            // The identity headers are the gateway's to set: a client's own values of those it did not set go.
            for name in filters.identityHeaders where !pass.headers.contains(where: { $0.0 == name }) {
                head.headers.remove(name: name)
            }
            // Then the request header rules, which may use `$identity`.
            if !filters.requestHeaders.isEmpty { RouteFilters.apply(filters.requestHeaders, to: &head.headers, variable) }
            upstreamHead = head
            gateOrProceed()
        case .refuse(let status, let extra, let body):
            gates.marks.insert(.authRefused)
            answer(status, body, extra: extra)
        }
    }

    /// The request is authenticated (or needs no authentication): its header rules, then the gates.
    func requestReady() {
        if let filters = route?.filters, !filters.requestHeaders.isEmpty, var head = upstreamHead {
            // Out of the handler while the rules run: changed in place, and `variable` reads the handler freely.
            upstreamHead = nil
            RouteFilters.apply(filters.requestHeaders, to: &head.headers, variable)
            upstreamHead = head
        }
        gateOrProceed()
    }

    /// The gates, or straight on when nothing gates the request.
    private func gateOrProceed() {
        if route?.traffic == nil && upstream?.traffic == nil && state?.protection == nil {
            proceed()
        } else {
            gates = RequestGates()
            runGates()
        }
    }

    /// A route with `return`: the gateway's own answer, once the gates let the request through.
    func answerDirect(_ direct: DirectAnswer) {
        var extra: [(String, String)] = []
        if let location = direct.location { extra.append(("location", location.render(variable))) }
        let body = direct.status == 204 || direct.status == 304 ? [] : Array(direct.renderedBody(variable).utf8)
        answer(HTTPResponseStatus(statusCode: direct.status), contentType: direct.contentType, body: body, extra: extra)
    }

    /// Response header rules and CORS on an answer to a routed request (the upstream's, or the gateway's own).
    /// `facts`: what the copy of the upstream's fields saw (nil: CORS looks itself).
    func filterResponse(_ filters: RouteFilters, _ headers: inout HTTPHeaders, facts: ProxyHeaders.ResponseFacts? = nil) {
        if !filters.responseHeaders.isEmpty { RouteFilters.apply(filters.responseHeaders, to: &headers, variable) }
        if filters.hasCORS {
            // Response rules that name Vary or an Access-Control-* field change what the copy saw.
            let seen = filters.responseRulesTouchCORS ? nil : facts
            filters.applyCORS(to: &headers, origin: clientHead?.headers.first(name: "origin"), seen: seen)
        }
    }

    /// Sends a copy of the request to the route's mirror, when drawn (first try only, the request whole).
    func mirrorRequest(_ mirror: RequestMirror, context: ChannelHandlerContext) {
        guard let upstreamHead, let clientHead, mirror.draws(using: &random) else { return }
        mirror.send(
            head: upstreamHead, parts: buffered, whole: ProxyHeaders.framing(of: clientHead) == .none,
            on: context.eventLoop, allocator: context.channel.allocator)
    }

    static func query(of uri: String) -> Substring {
        uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[uri.utf8.index(after: $0)...] } ?? uri[uri.endIndex...]
    }

    /// The value of a filter variable for the current request.
    func variable(_ name: FilterVariable) -> String? {
        switch name {
        case .clientIP:
            guard let clientHead, let context else { return nil }
            return resolvedClientAddress(head: clientHead, context: context)
        case .remoteAddress: return context.flatMap { clientAddress($0) }
        case .requestID: return requestID
        case .route: return route?.name
        case .upstream: return upstream?.name
        case .upstreamServer: return tried.last?.target.description
        case .zone: return tryZone
        case .host: return clientHead?.headers.first(name: "host")
        case .scheme: return secure ? "https" : "http"
        case .method: return clientHead?.method.rawValue
        case .uri:
            guard let routedURI else { return nil }
            return String(routedURI.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        case .requestURI: return clientHead?.uri
        case .args:
            guard let routedURI, let question = routedURI.firstIndex(of: "?") else { return nil }
            return String(routedURI[routedURI.index(after: question)...])
        case .identity: return identity
        case .status: return responseStatus > 0 ? String(responseStatus) : nil
        case .capture: return nil
        case .param(let parameter): return params?[parameter].map(String.init)
        case .header(let field): return clientHead?.headers.first(name: field)
        }
    }
}
