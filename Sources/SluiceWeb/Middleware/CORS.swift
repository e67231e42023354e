public import SluiceFilters

/// CORS for a backend, with the gateway's own policy (`cors = …` in a route): preflights are answered here (204,
/// or 403 without CORS fields for an origin, method or header not allowed), and other answers to an allowed origin
/// get `Access-Control-Allow-Origin` (never `*` with credentials) and `Vary: Origin`.
///
/// Use it on the engine (`engine.use(try CORS(…))`), so that it sees preflights for paths that have no OPTIONS route.
public func CORS(_ policy: CORSPolicy) -> Handler {
    { c in
        let origin = c.header("origin")
        if c.method == .OPTIONS, let origin,
            CORSPolicy.isPreflight(method: "OPTIONS", origin: origin, requestMethod: c.header("access-control-request-method"))
        {
            c.abort()
            guard
                let fields = policy.preflight(
                    origin: origin, requestMethod: c.header("access-control-request-method") ?? "",
                    requestHeaders: c.header("access-control-request-headers"))
            else {
                c.addHeader("vary", CORSPolicy.vary)
                c.status(.forbidden)
                return
            }
            for (name, value) in fields { c.addHeader(name, value) }
            c.status(.noContent)
            return
        }
        c.addHeader("vary", CORSPolicy.vary)
        for (name, value) in policy.responseHeaders(origin: origin) { c.addHeader(name, value) }
        try c.next()
    }
}

/// `CORS` from the gateway's syntax: `try CORS("origins=https://app.example methods=GET,POST credentials=on")`.
public func CORS(_ text: String) throws(FilterSyntaxError) -> Handler {
    CORS(try CORSPolicy.parse(text))
}
