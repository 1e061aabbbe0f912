# Shared by scripts/test and scripts/lab (source it; bash): find what a fresh Debian/Ubuntu
# machine lacks and install it with apt-get, saying what it installs.

# PostgreSQL server binaries, found as the lab finds them.
have_pg_server() {
  [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ] && return 0
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# PgBouncer, found as the lab finds it.
have_pgbouncer() {
  [ -n "${PGBOUNCER_BIN:-}" ] && [ -x "$PGBOUNCER_BIN" ] && return 0
  command -v pgbouncer >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/pgbouncer ]
}

# Prometheus: promtool and the prometheus server, both in Debian's `prometheus` package.
have_prometheus() { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# install_missing WHO PACKAGE...: installs the Debian packages named (those found missing by
# the caller), saying so on stderr as WHO.
install_missing() {
  local who="$1"
  shift
  [ "$#" -gt 0 ] || return 0
  echo "$who: $* missing; installing with apt-get" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$@" >/dev/null
}

# The lab runs servers as the `postgres` user when we are root; the Debian package creates it.
ensure_postgres_user() {
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

# need_cargo WHO: stops with a pointer to rustup when there is no cargo.
need_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "$1: cargo not found; install Rust (https://rustup.rs)" >&2
    exit 1
  fi
}
