# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source it
# bench_gin_backend.sh: the Gin 1.8 reference server (scripts/gin-ping: GET /ping ->
# {"message":"pong"}), built from Debian packages only, for the bench scripts. Source it
# after scripts/lib/bench-common.sh (it uses log, die and bc_ensure_packages):
#
#     . "$REPO_ROOT/scripts/lib/bench-common.sh"
#     . "$REPO_ROOT/scripts/lib/bench_gin_backend.sh"
#     bc_gin_ensure_packages
#     bc_gin_build "$REPO_ROOT/.build-bench"     # sets GIN_BIN
#     bc_spawn OUT env GOMAXPROCS=1 taskset -c 1 "$GIN_BIN" PORT
#
# What it gives:
#   BC_GIN_PKGS                the Debian packages the build needs
#   bc_gin_ensure_packages     install them with apt-get if missing
#   bc_gin_build DIR           build DIR/gin-ping in GOPATH mode against Debian's gin
#                              sources in /usr/share/gocode (Go's build cache in
#                              DIR/gocache, so a rebuild takes a second); sets GIN_BIN
#   bc_gin_versions            "go1.19.8, gin 1.8.1-1" (for reports)
#
# The server listens on 127.0.0.1:PORT only (its only argument). It uses gin.New() (no
# logger, no recovery middleware): no access log, like the other servers benchmarked.

BC_GIN_PKGS=(golang-go golang-github-gin-gonic-gin-dev)
GIN_BIN=""

bc_gin_ensure_packages() {
    bc_ensure_packages "${BC_GIN_PKGS[@]}"
}

# bc_gin_build DIR: build scripts/gin-ping into DIR/gin-ping; set GIN_BIN.
bc_gin_build() {
    local dir=$1 src
    src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/gin-ping"
    [[ -f $src/main.go ]] || die "Gin server source not found: $src/main.go"
    command -v go >/dev/null || die "go not found (package golang-go)"
    mkdir -p "$dir"
    GIN_BIN="$dir/gin-ping"
    log "building Gin server (GOPATH mode, Debian's gin in /usr/share/gocode) -> $GIN_BIN"
    # GOCACHE set explicitly so the build also works with no $HOME (e.g. in CI).
    (cd "$src" &&
        GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS='' \
        GOCACHE="$dir/gocache" \
        go build -o "$GIN_BIN" .) >&2 || die "go build of scripts/gin-ping failed"
    [[ -x $GIN_BIN ]] || die "Gin server binary not found after the build: $GIN_BIN"
}

# bc_gin_versions: the Go toolchain's and Debian's gin package's versions, on one line.
bc_gin_versions() {
    local gov ginv
    gov=$(go version 2>/dev/null | awk '{print $3}' || true)
    ginv=$(dpkg-query -W -f='${Version}' golang-github-gin-gonic-gin-dev 2>/dev/null || true)
    echo "${gov:-go ?}, gin ${ginv:-?}"
}
