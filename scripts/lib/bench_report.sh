# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # globals shared with scripts/bench, which sources this file
# bench_report.sh: print_report prints scripts/bench's markdown report from the medians (M_*) and
# per-round numbers (R_*, S_*) that scripts/bench collected. Sourced by scripts/bench.

print_report() {
    # --- report ---------------------------------------------------------------------------
    echo "# Reverse proxies in front of $BACKEND: GET /ping, layouts ${LAYOUT_LIST[*]}"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- command: \`$CMDLINE\`"
    echo "- machine: nproc=$(nproc), $(cpu_model), kernel $(uname -r), $(uname -m); load average at the start: $LOADAVG_START, at the end: $LOADAVG_END (other work on the machine skews req/s more than CPU µs/req)"
    versions="wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}' || true)"
    for p in "${PROXY_LIST[@]}"; do versions+="; $(version_of "$p")"; done
    ((SYSCALLS)) && versions+="; $(strace -V 2>/dev/null | head -n 1 | awk '{print "strace", $NF}' || true)"
    versions+="; backend $(backend_version)"
    echo "- versions: $versions"
    if ((${#PIN_PROXY[@]} > 0)); then
        for l in "${LAYOUT_LIST[@]}"; do
            echo "- layout $l: $(layout_desc "$l") (taskset -c)"
        done
    else
        echo "- pinning: none (fewer than 2 usable CPUs): the layouts are the same and the numbers are not comparable with pinned runs"
    fi
    case $BACKEND in
        gin) echo "- backend: Gin (scripts/gin-ping, gin.New(), no logger) with GOMAXPROCS=$BACKEND_THREADS on $HOST:$BACKEND_PORT, restarted for each layout; GET /ping -> {\"message\":\"pong\"}" ;;
        sluice-demo) echo "- backend: sluice-demo --threads $BACKEND_THREADS --quiet on $HOST:$BACKEND_PORT, restarted for each layout" ;;
    esac
    echo "- proxies: sluice workers=1, upstream keepalive=64; nginx worker_processes 1, upstream keepalive 64, HTTP/1.1 upstream; haproxy nbthread 1, http-reuse always; no access logs anywhere but sluice-log (sluice with access_log = on, written to a file); sluice-full: sluice with a token bucket, a circuit breaker, outlier detection and health checks on the route; sluice-nometrics: sluice with metrics = off; sluice-filters: sluice with a regex rewrite, request and response header rules, hide_header, CORS, allow and auth = api_key on the route (every proxy is sent the X-API-Key header)"
    echo "- warm-up: ${WARMUP}s per proxy, then: \`${PIN_LOAD[*]:+${PIN_LOAD[*]} }${WRK_BASE[*]} http://$HOST:PORT/ping\` (sluice PORT=$SLUICE_PORT, nginx PORT=$NGINX_PORT, haproxy PORT=$HAPROXY_PORT)"
    echo "- CPU µs/req: utime+stime of the proxy's processes (/proc/PID/stat, CLK_TCK=$CLK_TCK) over the measured run / requests wrk counted; peak RSS: VmHWM after the run; idle RSS: VmRSS once /ping answered, before any load (nginx: master + worker)"
    if ((SYSCALLS)); then
        echo "- syscalls/req: a separate ${SYSCALL_DURATION}s pass after the measured one (round 1), \`strace -c -f -p PID\` (nginx: the worker) during \`wrk -t1 -c$CONNS -d${SYSCALL_DURATION}s\`, total calls / requests wrk counted in that pass"
    else
        echo "- syscalls/req: not measured (SYSCALLS=0)"
    fi
    if ((ROUNDS > 1)); then
        echo "- rounds: $ROUNDS per layout, order alternating ($(printf '%s | ' "${ORDERS[@]}" | sed 's/ | $//')); every number is the median over the rounds"
    fi
    echo

    echo "| layout | proxy | req/s | p50 ms | p99 ms | CPU µs/req | syscalls/req | peak RSS MiB | idle RSS MiB |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for l in "${LAYOUT_LIST[@]}"; do
        for p in "${PROXY_LIST[@]}"; do
            k="$l,$p"
            echo "| $l | $p | ${M_RPS[$k]} | ${M_P50[$k]} | ${M_P99[$k]} | ${M_CPU[$k]} | ${S_PER_REQ[$k]:-n/a} | ${M_RSS[$k]} | ${M_IDLE[$k]} |"
        done
    done
    echo

    if ((SYSCALLS)); then
        echo "| layout | proxy | syscalls/req | top 4 syscalls per request | req/s under strace |"
        echo "| --- | --- | ---: | --- | ---: |"
        for l in "${LAYOUT_LIST[@]}"; do
            for p in "${PROXY_LIST[@]}"; do
                k="$l,$p"
                echo "| $l | $p | ${S_PER_REQ[$k]} | ${S_TOP[$k]} | ${S_RPS[$k]} |"
            done
        done
        echo
    fi

    ratio_line() { # ratio_line LAYOUT OTHER
        awk -v l="$1" -v n="$2" -v sr="${M_RPS[$1,sluice]}" -v orps="${M_RPS[$1,$2]}" \
            -v sc="${M_CPU[$1,sluice]}" -v oc="${M_CPU[$1,$2]}" 'BEGIN {
            rr = (orps > 0) ? sprintf("%.2f", sr / orps) : "n/a"
            cr = (oc > 0) ? sprintf("%.2f", sc / oc) : "n/a"
            printf "layout %s, sluice/%s: req/s %s, CPU/req %s\n", l, n, rr, cr
        }'
    }
    if want sluice && { want nginx || want haproxy; }; then
        for l in "${LAYOUT_LIST[@]}"; do
            for other in nginx haproxy; do
                if want "$other"; then
                    ratio_line "$l" "$other"
                fi
            done
        done
        echo "(req/s above 1 and CPU/req below 1 favour sluice)"
        echo
    fi

    echo "CPU busy during the measured runs (CPU $PROXY_CPU / CPU $LOAD_CPU), and the backend's CPU µs per request:"
    for l in "${LAYOUT_LIST[@]}"; do
        for p in "${PROXY_LIST[@]}"; do
            line="- layout $l, $p:"
            for ((r = 1; r <= ROUNDS; r++)); do
                line+=" ${R_BUSY_P[$l,$p,$r]}% / ${R_BUSY_L[$l,$p,$r]}%"
                ((r < ROUNDS)) && line+=","
            done
            line+="; backend ${M_BCPU[$l,$p]} µs/req"
            echo "$line"
        done
    done
    echo "(a core near 100% that the proxy does not run alone on -- CPU $LOAD_CPU in both layouts, CPU $PROXY_CPU in layout A -- may have limited req/s: then compare CPU µs/req)"

    if ((ROUNDS > 1)); then
        echo
        echo "Per round:"
        echo
        echo "| layout | proxy | round | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | idle RSS MiB |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for l in "${LAYOUT_LIST[@]}"; do
            for p in "${PROXY_LIST[@]}"; do
                for ((r = 1; r <= ROUNDS; r++)); do
                    k="$l,$p,$r"
                    echo "| $l | $p | $r | ${R_RPS[$k]} | ${R_P50[$k]} | ${R_P99[$k]} | ${R_CPU[$k]} | ${R_RSS[$k]} | ${R_IDLE[$k]} |"
                done
            done
        done
    fi

}
