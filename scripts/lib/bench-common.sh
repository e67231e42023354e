# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source it
# bench-common.sh: bash helpers shared by scripts/bench, scripts/bench-backend and
# scripts/reload-under-load. Source it (after `set -euo pipefail`) with BC_NAME set to
# the script's name, which prefixes every log line:
#
#     BC_NAME=bench
#     . "$REPO_ROOT/scripts/lib/bench-common.sh"
#     bc_make_tmp; bc_install_traps
#
# What it gives:
#   log / die                  messages on stderr, "$BC_NAME: ..."
#   bc_require_uint VAR...     each variable must hold a non-negative integer
#   bc_make_tmp                TMP_DIR, a fresh temp folder removed on exit
#   bc_install_traps           EXIT runs bc_cleanup; INT / TERM exit 130 / 143
#   bc_spawn OUT CMD...        start CMD in the background (stdout+stderr to OUT); its PID
#                              goes into BC_PID and is stopped by bc_cleanup
#   bc_stop PID [GRACE]        SIGTERM, up to GRACE s (default 5), then SIGKILL; by PID only.
#                              Sets BC_STOP_RC to its exit status (or "killed").
#   run_load CMD...            run a load command in the background and wait for it (so a
#                              signal to the script is handled at once); cleanup stops it
#   bc_cleanup                 stop the load, every spawned PID (newest first), call
#                              bc_cleanup_hook if the script defines it, remove TMP_DIR
#   pkg_installed / bc_ensure_packages PKG...   Debian packages, apt-get if missing
#   port_open PORT / ping_ok PORT [PATH]        probes of 127.0.0.1 only
#   bc_wait_ready NAME PORT PID OUT [TIMEOUT]   wait until GET /ping answers 200
#   to_ms DURATION             wrk's 812.00us / 1.23ms / 2.01s -> milliseconds
#   bc_parse_wrk FILE          WRK_* variables from a `wrk --latency` report
#   bc_tree_pids PID           PID and all its descendants
#   bc_cpu_ticks PID           utime+stime (clock ticks) of PID and its descendants
#   bc_hwm_kb PID              VmHWM (kB) of PID plus its descendants'
#   bc_rss_kb PID              VmRSS (kB, now) of PID plus its descendants'
#   bc_setup_pinning SERVER_CPU WRK_CPU   PIN_SERVER / WRK_PIN arrays for taskset
#   bc_swift_bin_dir PRODUCT...   build the products (unless SKIP_BUILD=1), set SWIFT_BIN_DIR
#   bc_median VALUE...         the median of numbers ("n/a" values ignored)
#
# Only 127.0.0.1 is ever probed.

HOST=127.0.0.1
BC_NAME=${BC_NAME:-$(basename "$0")}

log() { echo "$BC_NAME: $*" >&2; }
die() { log "error: $*"; exit 1; }

bc_require_uint() {
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
    done
}

# --- processes we started, and cleanup ---------------------------------------
TMP_DIR=""
WRK_PID=""
BC_PID=""
BC_PIDS=()
BC_STOP_RC=""

bc_make_tmp() {
    TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$BC_NAME.XXXXXX")
}

# bc_spawn OUT CMD [ARGS...]: start CMD in the background, output to OUT.
# Use `env`, `taskset` and the like, which exec, so that BC_PID is CMD's own PID.
bc_spawn() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    BC_PID=$!
    BC_PIDS+=("$BC_PID")
}

bc_forget_pid() {
    local pid=$1 keep=() p
    for p in "${BC_PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    BC_PIDS=("${keep[@]}")
}

# bc_stop PID [GRACE_SECONDS]
bc_stop() {
    local pid=$1 grace=${2:-5}
    BC_STOP_RC=""
    [[ -n $pid ]] || return 0
    bc_forget_pid "$pid"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        # give it up to GRACE s to exit on SIGTERM, then SIGKILL (still by PID)
        local i
        for ((i = 0; i < grace * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "PID $pid did not stop on SIGTERM, sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
            BC_STOP_RC=killed
        fi
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    [[ -n $BC_STOP_RC ]] || BC_STOP_RC=$rc
}

# Run a load command in the background and wait for it, so that a signal to
# this script is handled at once (bash defers traps while a foreground child
# runs); cleanup stops it by PID. Returns the command's exit status.
run_load() {
    "$@" &
    WRK_PID=$!
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    return "$rc"
}

bc_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $WRK_PID ]]; then
        kill "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    local pids=("${BC_PIDS[@]}") i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        bc_stop "${pids[i]}"
    done
    if declare -F bc_cleanup_hook >/dev/null; then
        bc_cleanup_hook || true
    fi
    [[ -z $TMP_DIR ]] || rm -rf "$TMP_DIR"
    exit "$rc"
}

bc_install_traps() {
    trap bc_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# --- dependencies (Debian packages only) --------------------------------------
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# bc_ensure_packages PKG...: install the missing ones with apt-get (all named
# packages are passed to apt-get install, so it also upgrades none by surprise).
bc_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "missing packages: ${missing[*]}; installing with apt-get"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}

# --- probes -------------------------------------------------------------------
# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$HOST" "$1" 2>/dev/null
}

# True if GET PATH (default /ping) on 127.0.0.1:$1 returns HTTP 200 (curl, or bash's /dev/tcp).
ping_ok() {
    local port=$1 path=${2:-/ping}
    if command -v curl >/dev/null; then
        # CURL_HEADER: extra request headers the caller set (scripts/bench: the API key of sluice-filters).
        [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' ${CURL_HEADER[@]+"${CURL_HEADER[@]}"} "http://$HOST:$port$path" 2>/dev/null) == 200 ]]
    else
        # shellcheck disable=SC2016  # $1/$2/$3 expand in the inner bash
        timeout 2 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
            IFS= read -r line <&3 || exit 1
            [[ $line == "HTTP/1."?" 200"* ]]' _ "$HOST" "$port" "$path" 2>/dev/null
    fi
}

# bc_wait_ready NAME PORT PID OUT [TIMEOUT]: wait until GET /ping on PORT answers 200;
# die (showing the end of OUT) if PID exits first or TIMEOUT (default 30) s pass.
bc_wait_ready() {
    local name=$1 port=$2 pid=$3 out=$4 limit=${5:-30}
    local deadline=$((SECONDS + limit))
    until ping_ok "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$out" >&2 || true
            die "[$name] server exited before answering /ping"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$out" >&2 || true
            die "[$name] /ping did not answer on $HOST:$port within ${limit}s"
        fi
        sleep 0.2
    done
}

# --- wrk output ---------------------------------------------------------------
# Convert a wrk duration (e.g. 812.00us, 1.23ms, 2.01s, 1.50m) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9.]+/) == 0) { print "nan"; exit }
        n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000
        else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else { print "nan"; exit }
        printf "%.3f", n * f
    }'
}

# bc_parse_wrk FILE: read a `wrk --latency` report. Sets
#   WRK_RPS WRK_P50 WRK_P99 (as printed: 1.23ms), WRK_REQUESTS (total),
#   WRK_NON2XX, WRK_ERR_CONNECT WRK_ERR_READ WRK_ERR_WRITE WRK_ERR_TIMEOUT (0 when absent),
#   WRK_NOTES (wrk's own error lines, joined with "; ", empty when none).
# Returns 1 if the requests/sec or total line is missing.
bc_parse_wrk() {
    local f=$1
    WRK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$f")
    WRK_P50=$(awk '$1 == "50%" {print $2; exit}' "$f")
    WRK_P99=$(awk '$1 == "99%" {print $2; exit}' "$f")
    WRK_REQUESTS=$(awk '$2 == "requests" && $3 == "in" {print $1; exit}' "$f")
    WRK_NON2XX=$(awk -F: '/^[[:space:]]*Non-2xx or 3xx responses:/ {gsub(/[[:space:]]/, "", $2); print $2; exit}' "$f")
    WRK_NON2XX=${WRK_NON2XX:-0}
    local sock
    sock=$(sed -nE 's/^[[:space:]]*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1 \2 \3 \4/p' "$f")
    read -r WRK_ERR_CONNECT WRK_ERR_READ WRK_ERR_WRITE WRK_ERR_TIMEOUT <<<"${sock:-0 0 0 0}"
    # Errors wrk reports (only printed by wrk when non-zero).
    WRK_NOTES=$(grep -E '^[[:space:]]*(Non-2xx or 3xx responses|Socket errors):' "$f" |
        sed -E 's/^[[:space:]]+//' | paste -sd ';' - | sed 's/;/; /g' || true)
    [[ -n $WRK_RPS && -n $WRK_REQUESTS ]]
}

# --- /proc --------------------------------------------------------------------
# bc_tree_pids PID: PID, then its descendants (all threads' children), one a line.
bc_tree_pids() {
    local pid=$1 child f children
    [[ -d /proc/$pid ]] || return 0
    echo "$pid"
    for f in /proc/"$pid"/task/*/children; do
        children=()
        read -r -a children <"$f" 2>/dev/null || true
        for child in "${children[@]}"; do
            bc_tree_pids "$child"
        done
    done
}

# bc_cpu_ticks PID: user+system CPU time of PID and its descendants, in clock ticks
# (fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name).
bc_cpu_ticks() {
    local total=0 p stat rest
    for p in $(bc_tree_pids "$1"); do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        # rest starts at field 3 (state): utime is field 14, stime 15 -> words 12 and 13
        # shellcheck disable=SC2086  # split on purpose
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# bc_status_kb FIELD PID: the /proc/PID/status FIELD (kB) of PID plus its descendants'.
# Empty if PID is gone.
bc_status_kb() {
    local field=$1 total="" p kb
    for p in $(bc_tree_pids "$2"); do
        kb=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null || true)
        [[ -n $kb ]] && total=$((${total:-0} + kb))
    done
    echo "$total"
}

# bc_hwm_kb PID: peak resident set size (VmHWM, kB) of PID plus its descendants'.
bc_hwm_kb() { bc_status_kb VmHWM "$1"; }

# bc_rss_kb PID: current resident set size (VmRSS, kB) of PID plus its descendants'.
bc_rss_kb() { bc_status_kb VmRSS "$1"; }

# --- pinning and builds -------------------------------------------------------
PIN_SERVER=()
WRK_PIN=()

# bc_setup_pinning SERVER_CPU WRK_CPU: set PIN_SERVER and WRK_PIN (taskset prefixes),
# or leave both empty with a warning if the machine has not two such CPUs.
bc_setup_pinning() {
    local server_cpu=$1 wrk_cpu=$2 ncpu
    command -v taskset >/dev/null || die "taskset not found (package util-linux)"
    ncpu=$(nproc)
    if ((ncpu > server_cpu && ncpu > wrk_cpu)) && [[ $server_cpu != "$wrk_cpu" ]]; then
        PIN_SERVER=(taskset -c "$server_cpu")
        WRK_PIN=(taskset -c "$wrk_cpu")
    else
        PIN_SERVER=()
        WRK_PIN=()
        log "warning: need 2 distinct CPUs (SERVER_CPU=$server_cpu WRK_CPU=$wrk_cpu, nproc=$ncpu); running unpinned"
    fi
}

# bc_swift_bin_dir PRODUCT...: unless SKIP_BUILD=1, build each product with
# `swift build -c release --static-swift-stdlib --product P`; set SWIFT_BIN_DIR and
# check that every product's binary is there.
SWIFT_BIN_DIR=""
bc_swift_bin_dir() {
    command -v swift >/dev/null || die "swift not found"
    local p
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        for p in "$@"; do
            log "building $p (swift build -c release --static-swift-stdlib --product $p)"
            swift build -c release --static-swift-stdlib --product "$p" >&2 || die "swift build of $p failed"
        done
    fi
    SWIFT_BIN_DIR=$(swift build -c release --static-swift-stdlib --show-bin-path)
    for p in "$@"; do
        [[ -x $SWIFT_BIN_DIR/$p ]] || die "$p binary not found or not executable: $SWIFT_BIN_DIR/$p (build it, or unset SKIP_BUILD)"
    done
}

# bc_median VALUE...: the median (mean of the two middle ones for an even count);
# "n/a" and empty values are ignored; prints "n/a" if none is left.
bc_median() {
    printf '%s\n' "$@" | awk '$1 != "" && $1 != "n/a" && $1 != "nan"' | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}
