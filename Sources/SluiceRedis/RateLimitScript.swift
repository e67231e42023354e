/// The Lua script that is the authoritative limiter: a GCRA (generic cell rate algorithm) bucket per key.
///
/// The key holds the bucket's *theoretical arrival time* (TAT) in microseconds of Redis's own clock. With emission
/// interval `T = period / count` and capacity `burst`, the bucket is full when `TAT <= now`, and the number of tokens
/// available at `now` is `floor((now + burst·T - TAT) / T)`. Taking `g` tokens moves TAT forward by `g·T`.
///
/// The script takes up to `want` tokens (a gateway's batch), grants as many as are available, and returns
/// `{granted, remaining, retry_after_us}`: `remaining` is the tokens left in the bucket after the grant, and
/// `retry_after_us` (only when fewer than `want` were granted) is how long until one more token exists. The key
/// expires (`SET ... PX`) the moment the bucket would be full again, so idle keys vanish.
///
/// The clock is Redis's `TIME`, read inside the script, so every gateway shares one clock whatever their own clocks
/// say. Redis 5+ replicates scripts by their effects, which is what lets a script that read `TIME` write; the
/// `replicate_commands` call switches that on for Redis 3.2–4 and is a no-op on 7.
enum RateLimitScript {
    static let source = """
        if redis.replicate_commands then redis.replicate_commands() end
        local want = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local burst = tonumber(ARGV[3])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local capacity = interval * burst
        local available = math.floor((now + capacity - tat) / interval + 1e-6)
        local granted = math.max(0, math.min(want, available))
        if granted > 0 then
          tat = tat + granted * interval
          redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
        end
        local remaining = math.max(0, math.floor((now + capacity - tat) / interval + 1e-6))
        local retry = 0
        if granted < want then retry = math.max(1, math.ceil(tat + interval - capacity - now)) end
        return {granted, remaining, retry}
        """
}
