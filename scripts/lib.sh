# Shared by the scripts that start real processes on loopback (demo.sh,
# gen-symbol-order.sh): a temp dir and the PIDs started here, both cleaned
# up on exit (only those PIDs are killed), free ports, and polling.
# Source it after `set -euo pipefail`.

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Sets variable $1 to a loopback port nobody answers on (no subshell, so
# the next call moves on).
next_port=$((20000 + RANDOM % 20000))
alloc_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$next_port") 2>/dev/null; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"
  next_port=$((next_port + 1))
}
cli() { redis-cli -h 127.0.0.1 -p "$@"; }
# Polls "$@" until it succeeds, at most $1 seconds.
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# Starts redis-server on port $1 (more options after it) under $WORK.
start_redis() {
  local port=$1; shift
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --repl-diskless-sync-delay 0 \
    --dir "$WORK" --logfile "$WORK/redis-$port.log" "$@" &
  PIDS+=($!); disown $!
  wait_for 10 cli "$port" ping
}
