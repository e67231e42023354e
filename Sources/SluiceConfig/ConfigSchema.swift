/// The sections and keys Sluice knows: what the validator checks against, and what "did you mean" chooses from.
/// A new key is added here and read in the matching `ConfigValidator+…` file.
enum SectionKind: String, CaseIterable, Sendable {
    case server, upstream, route, protection, ratelimit, tls

    /// `[server]`, `[protection]` and `[ratelimit]` are one section each (several are merged); upstreams and routes
    /// are named.
    var takesName: Bool { self == .upstream || self == .route }

    /// The keys of this section, in the order the reference file documents them.
    var keys: [KeySpec] {
        switch self {
        case .server:
            [
                .list("listen"), .single("zone"), .single("admin"), .single("admin_token"), .single("workers"),
                .single("max_client_connections"), .single("max_header_size"), .single("max_headers"),
                .single("max_body_size"), .single("request_buffer_size"), .single("client_header_timeout"),
                .single("client_body_timeout"), .single("request_timeout"), .single("keepalive_timeout"),
                .single("drain_timeout"), .single("merge_slashes"), .single("escaped_slashes"),
                .single("access_log"), .single("access_log_format"), .single("metrics"), .single("log_level"), .list("trusted_proxies"), .list("include"),
                .single("redirect_https"), .single("h2_max_concurrent_streams"), .single("h2_initial_window_size"),
                .single("h2_connection_window_size"), .single("h2_max_header_list_size"),
                .list("resolver"), .single("resolver_timeout"),
            ]
        case .upstream:
            [
                .list("server"), .single("balance"), .single("keepalive"), .single("keepalive_timeout"),
                .single("keepalive_requests"), .single("max_connections"), .single("queue"), .single("queue_timeout"),
                .single("connect_timeout"), .single("max_fails"), .single("fail_timeout"), .single("health_check"),
                .single("outlier"), .single("hash_key"),
                .single("zone_min_size"), .single("panic"), .single("slow_start"), .single("retry_budget"),
                .single("circuit_breaker"), .single("max_requests"), .single("max_pending"),
                .single("adaptive_concurrency"), .list("degrade"), .single("tls"), .single("tls_verify"),
                .single("tls_ca"), .single("tls_sni"), .single("protocol"), .single("resolve_interval"),
            ]
        case .route:
            [
                .single("match"), .list("host"), .single("methods"), .single("upstream"), .single("timeout"),
                .single("idle_timeout"), .single("retries"), .single("host_rewrite"), .single("split_key"),
                .single("canary"), .single("retry_non_idempotent"), .list("rate_limit"), .single("priority"),
                .single("fallback"), .list("degrade"), .single("circuit_breaker"), .single("adaptive_concurrency"),
                .list("fault"), .single("fault_header"), .single("hsts"), .single("gzip"), .single("gzip_types"),
                .single("gzip_min_length"), .single("gzip_level"), .single("websocket"),
                .single("tunnel_timeout"), .single("strip_prefix"), .single("add_prefix"), .single("rewrite"),
                .list("request_header"), .list("response_header"), .list("hide_header"), .single("return"),
                .single("cors"), .list("allow"), .list("deny"), .single("auth"), .single("auth_identity_header"),
                .single("auth_cache"), .single("auth_cache_size"), .single("jwt_keys"), .single("jwt_issuer"),
                .single("jwt_audience"), .single("jwt_leeway"), .single("jwt_required_claims"),
                .single("jwt_identity_claim"), .list("jwt_claim_header"), .single("jwt_from"), .single("api_keys"),
                .single("api_key_from"), .single("htpasswd"), .single("auth_realm"), .single("forward_auth_timeout"),
                .single("forward_auth_request_headers"), .single("forward_auth_response_headers"),
                .single("forward_auth_identity_header"), .single("auth_failure"), .single("mirror"),
            ]
        case .protection:
            [.single("adaptive"), .single("max_inflight"), .single("recovery")]
        case .ratelimit:
            [.single("backend"), .single("batch"), .single("timeout")]
        case .tls:
            [.list("certificate"), .single("tls_min_version")]
        }
    }

    /// `[upstream users]`-style example for messages.
    var example: String {
        switch self {
        case .server: "[server]"
        case .upstream: "[upstream users]"
        case .route: "[route users]"
        case .protection: "[protection]"
        case .ratelimit: "[ratelimit]"
        case .tls: "[tls]"
        }
    }
}

/// One key a section accepts.
struct KeySpec: Hashable, Sendable {
    let name: String
    /// Whether the key may be given more than once (each occurrence adds to a list).
    let repeatable: Bool

    static func single(_ name: String) -> KeySpec { KeySpec(name: name, repeatable: false) }
    static func list(_ name: String) -> KeySpec { KeySpec(name: name, repeatable: true) }
}
