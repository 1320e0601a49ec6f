#!/usr/bin/env bash
# The demo: a master, two replicas and three rsentinels on loopback, the
# topology they discover, then a live failover after `kill -9` of the master.
# Everything runs under a temp dir; only the PIDs started here are killed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
cargo build --release --quiet
BIN="$PWD/target/release/rsentinel"
# shellcheck source=scripts/lib.sh
. ./scripts/lib.sh

alloc_port M; alloc_port R1; alloc_port R2
echo "== starting master :$M and replicas :$R1 :$R2"
start_redis "$M"; MASTER_PID=${PIDS[-1]}
start_redis "$R1" --replicaof 127.0.0.1 "$M"
start_redis "$R2" --replicaof 127.0.0.1 "$M"

S=()
for i in 1 2 3; do
  alloc_port p; S+=("$p")
  cat > "$WORK/sentinel-$p.conf" <<CONF
port $p
bind 127.0.0.1
logfile "$WORK/sentinel-$p.log"
sentinel monitor mymaster 127.0.0.1 $M 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
CONF
  "$BIN" "$WORK/sentinel-$p.conf" &
  PIDS+=($!); disown $!
done
echo "== starting three rsentinels :${S[*]}"
for p in "${S[@]}"; do wait_for 10 cli "$p" ping; done

knows_all() {
  local p=$1
  [ "$(cli "$p" sentinel master mymaster | grep -A1 -x num-slaves | tail -1)" = 2 ] &&
  [ "$(cli "$p" sentinel master mymaster | grep -A1 -x num-other-sentinels | tail -1)" = 2 ]
}
for p in "${S[@]}"; do wait_for 20 knows_all "$p" || echo "(sentinel :$p still discovering)"; done

echo "== SENTINEL get-master-addr-by-name mymaster (from :${S[0]})"
cli "${S[0]}" sentinel get-master-addr-by-name mymaster
echo "== topology seen by :${S[0]}"
cli "${S[0]}" info sentinel | grep '^master0'
cli "${S[0]}" sentinel replicas mymaster | awk 'prev=="name"{print "  replica  " $0} {prev=$0}'
cli "${S[0]}" sentinel sentinels mymaster | awk 'prev=="ip"{ip=$0} prev=="port"{print "  sentinel " ip ":" $0} {prev=$0}'

echo "== kill -9 the master (:$M), waiting for a majority to advertise a new one"
start=$(date +%s%N)
kill -9 "$MASTER_PID"
moved() {
  local n=0
  for p in "${S[@]}"; do
    [ "$(cli "$p" sentinel get-master-addr-by-name mymaster | tail -1)" != "$M" ] && n=$((n + 1))
  done
  [ "$n" -ge 2 ]
}
if wait_for 60 moved; then
  end=$(date +%s%N)
  NEW=$(cli "${S[0]}" sentinel get-master-addr-by-name mymaster | tail -1)
  echo "== new master :$NEW after $(( (end - start) / 1000000 )) ms (down-after-milliseconds = 1000)"
  cli "$NEW" role | head -1
  cli "$NEW" set demo-key hello
  echo "== restarting the old master; it must become a replica of :$NEW"
  back=$(date +%s%N)
  start_redis "$M"
  if wait_for 40 sh -c "redis-cli -p $M role | head -1 | grep -q slave"; then
    demoted=$(date +%s%N)
    echo "old master demoted $(( (demoted - back) / 1000000 )) ms after it came back"
    wait_for 20 sh -c "redis-cli -p $M info replication | grep -q 'master_port:$NEW'" &&
      echo "old master now replicates from :$NEW"
  else
    echo "old master not yet converted"
  fi
else
  echo "no failover observed within 60 s"
  exit 1
fi
