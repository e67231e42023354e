import SluiceRouter

extension ConfigValidator {
    /// Routes that the router would refuse together: the same pattern for the same host and method, or parameters
    /// with different names at the same place (`/users/:id` beside `/users/:name`).
    ///
    /// The gateway keeps one router per host (any-host routes in their own), so the check builds one `RouterBuilder`
    /// per host and adds each route under each of its methods (nil for any). Routes for different hosts never
    /// conflict. Each conflicting pair is reported once, at the later route's `match`.
    mutating func checkConflicts(_ routes: [ReadRoute]) {
        var builders: [String: RouterBuilder<Int>] = [:]
        var members: [String: [Int]] = [:]
        var reported = Set<[Int]>()
        for (index, route) in routes.enumerated() where route.patternValid {
            let hosts = route.config.hosts.isEmpty ? [""] : route.config.hosts
            let methods: [String?] = route.config.methods.isEmpty ? [nil] : route.config.methods
            for host in hosts {
                var builder = builders[host] ?? RouterBuilder<Int>()
                for method in methods {
                    do {
                        try builder.add(method, route.config.match, index)
                    } catch {
                        let other = conflictingRoute(error, method: method, among: members[host] ?? [], routes)
                        guard reported.insert([index, other ?? -1]).inserted else { continue }
                        report(error, route: route, other: other.map { routes[$0] }, host: host)
                    }
                }
                builders[host] = builder
                members[host, default: []].append(index)
            }
        }
    }

    /// The earlier route the router error is about: the one with the error's `existingPattern`, preferring one that
    /// shares `method` for a duplicate.
    private func conflictingRoute(_ error: RouterError, method: String?, among candidates: [Int], _ routes: [ReadRoute])
        -> Int?
    {
        let samePattern = candidates.filter { routes[$0].config.match == error.existingPattern }
        if error.kind == .duplicateRoute {
            let sameMethod = samePattern.first { candidate in
                let methods = routes[candidate].config.methods
                return method.map { methods.contains($0) } ?? methods.isEmpty
            }
            if let sameMethod { return sameMethod }
        }
        return samePattern.first
    }

    private mutating func report(_ error: RouterError, route: ReadRoute, other: ReadRoute?, host: String) {
        var message = ""
        if let other {
            let place = other.matchEntry?.location ?? other.config.location
            message = "conflicts with [route \(other.config.name)] (match at \(place))"
            message += host.isEmpty ? "" : " for host \(host)"
            message += ": "
        }
        message += error.description
        errors.append(
            ConfigError(
                location: route.matchEntry?.location ?? route.config.location, section: "[route \(route.config.name)]",
                key: "match", message: message))
    }
}
