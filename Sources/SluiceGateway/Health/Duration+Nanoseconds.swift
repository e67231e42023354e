extension Duration {
    /// The duration in whole nanoseconds (truncated toward zero, saturating at `Int64`'s bounds).
    ///
    /// The health policies draw jitter as integers so that the bounds are exact: a draw in `-span...span`
    /// nanoseconds never lands a hair outside the interval the way a `Double` product can.
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }
}
