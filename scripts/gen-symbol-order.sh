#!/usr/bin/env bash
# Regenerates scripts/symbol-order.txt: the functions of the release binary
# that a sentinel runs in its life (start-up, discovery, the steady state,
# client queries, a config rewrite, shutdown), in the order it first runs
# them. build.rs hands the file to the linker, which lays those functions
# out together at the start of .text: the kernel maps 64 KiB around every
# text page fault, so code scattered over the binary makes nearly all of it
# resident, while packed together it takes a fraction of the pages.
#
# Exact, not sampled: one sentinel of three runs under callgrind, which
# records every function executed. Names are the mangled symbols, stable
# for a given toolchain and Cargo.lock; a name that no longer exists is
# skipped by the linker, so a stale file only packs less. Run it after a
# toolchain or dependency update (about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$PWD/scripts/symbol-order.txt"
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
# Built without the order file, so that it cannot shape what it measures.
RSENTINEL_SYMBOL_ORDER=off cargo build --release --quiet
BIN="$PWD/target/release/rsentinel"
# shellcheck source=scripts/lib.sh
. ./scripts/lib.sh

alloc_port M; alloc_port R
start_redis "$M"
start_redis "$R" --replicaof 127.0.0.1 "$M"

# Two of the three run under callgrind, started the two ways operators do:
# the Debian unit's (config file with its logfile, supervised by systemd)
# and a shell's (`--sentinel`, the log on stdout).
CG=(valgrind -q --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no --dump-instr=no)
alloc_port S1; alloc_port S2; alloc_port S3
for s in "$S1" "$S2" "$S3"; do
  printf 'port %s\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 %s 2\n' "$s" "$M" >"$WORK/s$s.conf"
done
echo "logfile \"$WORK/s$S1.log\"" >>"$WORK/s$S1.conf"
"${CG[@]}" --callgrind-out-file="$WORK/cg1.out" "$BIN" "$WORK/s$S1.conf" --daemonize no \
  --supervised systemd & PIDS+=($!); disown
VG1=${PIDS[-1]}
"${CG[@]}" --callgrind-out-file="$WORK/cg2.out" "$BIN" "$WORK/s$S2.conf" --sentinel \
  >"$WORK/s$S2.log" 2>&1 & PIDS+=($!); disown
VG2=${PIDS[-1]}
"$BIN" "$WORK/s$S3.conf" --logfile "$WORK/s$S3.log" & PIDS+=($!); disown
ready() { cli "$1" info sentinel | grep -q 'status=ok,.*slaves=1,sentinels=3'; }
for s in "$S1" "$S2"; do
  wait_for 180 ready "$s" || { echo "sentinel :$s not ready" >&2; exit 1; }
done
# What clients and operators ask of a running sentinel.
for s in "$S1" "$S2"; do
  for c in "ping" "info" "role" "client list" "client setname gen" "config get *" \
    "sentinel masters" "sentinel master mymaster" "sentinel replicas mymaster" \
    "sentinel sentinels mymaster" "sentinel get-master-addr-by-name mymaster" \
    "sentinel ckquorum mymaster" "sentinel myid" "sentinel info-cache mymaster" \
    "sentinel set mymaster down-after-milliseconds 30000" "sentinel flushconfig" \
    "acl whoami" "command count" "hello 3" "sentinel pending-scripts" "nosuchcommand"; do
    # shellcheck disable=SC2086
    cli "$s" $c >/dev/null 2>&1 || true
  done
  cli "$s" -3 sentinel get-master-addr-by-name mymaster >/dev/null
  timeout 2 redis-cli -h 127.0.0.1 -p "$s" subscribe +sdown >/dev/null || true
done
# The steady state: periodic PING, INFO and hellos, several rounds of each.
sleep 25
cli "$S1" shutdown nosave >/dev/null 2>&1 || true
kill -TERM "$VG2"
for _ in $(seq 1 300); do
  kill -0 "$VG1" 2>/dev/null || kill -0 "$VG2" 2>/dev/null || break
  sleep 0.1
done

# Every function of our binary callgrind saw, in order of first appearance.
awk -v bin="$BIN" '
  /^ob=/ { ours = (substr($0, 4) == bin) }
  /^fn=/ && ours { name = substr($0, 4); if (!(name in seen)) { seen[name] = 1; print name } }
' "$WORK/cg1.out" "$WORK/cg2.out" >"$OUT.tmp"
# Code chosen by CPU feature at run time that valgrind's virtual CPU lacks:
# under callgrind sha2 hashes in software, natively with the SHA
# extensions (the config digest at start-up).
nm "$BIN" | awk '$3 ~ /^_ZN4sha26sha2563x86/ { print $3 }' >>"$OUT.tmp"
n=$(wc -l <"$OUT.tmp")
[ "$n" -gt 500 ] || { echo "only $n functions recorded" >&2; exit 1; }
mv "$OUT.tmp" "$OUT"
echo "$OUT: $n functions (cargo build --release links with it)"
