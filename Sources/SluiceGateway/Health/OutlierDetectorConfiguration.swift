/// The knobs of `OutlierDetector`, named and defaulted after Envoy's `outlier_detection` (differences noted).
struct OutlierDetectorConfiguration: Sendable, Equatable {
    /// Success-rate ejection (Envoy's `success_rate_*`), evaluated once per `interval`.
    struct SuccessRate: Sendable, Equatable {
        /// Requests a server must have answered in the interval to be judged (`success_rate_request_volume`).
        var minimumRequests = 100
        /// Servers that must qualify for any of them to be judged (`success_rate_minimum_hosts`).
        var minimumHosts = 5
        /// Ejected when below `mean − stdevFactor × stdev` (`success_rate_stdev_factor`, 1900 ‰ in Envoy).
        var stdevFactor = 1.9

        init(minimumRequests: Int = 100, minimumHosts: Int = 5, stdevFactor: Double = 1.9) {
            self.minimumRequests = minimumRequests
            self.minimumHosts = minimumHosts
            self.stdevFactor = stdevFactor
        }
    }

    /// 5xx answers in a row that eject a server (`consecutive_5xx`); 0 disables.
    var consecutive5xx = 5
    /// Gateway failures in a row (502/503/504, failed or timed-out connects, resets) that eject a server
    /// (`consecutive_gateway_failure`); 0 disables. Envoy counts them but, by default, does not enforce them
    /// (`enforcing_consecutive_gateway_failure` is 0%); Sluice enforces them.
    var consecutiveGatewayFailure = 5
    /// The first ejection's length; the n-th lasts `baseEjection × n`, capped (`base_ejection_time`).
    var baseEjection = Duration.seconds(30)
    /// The cap on an ejection's length (`max_ejection_time`).
    var maxEjection = Duration.seconds(300)
    /// The largest share of the pool ejected at once, in percent (`max_ejection_percent`; Envoy defaults to 10).
    var maxEjectedPercent = 50
    /// How often `tick(now:)` closes an evaluation interval (`interval`).
    var interval = Duration.seconds(10)
    /// `nil` disables success-rate ejection.
    var successRate: SuccessRate? = nil

    init(
        consecutive5xx: Int = 5, consecutiveGatewayFailure: Int = 5, baseEjection: Duration = .seconds(30),
        maxEjection: Duration = .seconds(300), maxEjectedPercent: Int = 50, interval: Duration = .seconds(10),
        successRate: SuccessRate? = nil
    ) {
        self.consecutive5xx = consecutive5xx
        self.consecutiveGatewayFailure = consecutiveGatewayFailure
        self.baseEjection = baseEjection
        self.maxEjection = maxEjection
        self.maxEjectedPercent = maxEjectedPercent
        self.interval = interval
        self.successRate = successRate
    }
}
