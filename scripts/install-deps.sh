#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to run rsentinel's demo and tests:
# the real redis-server, redis-sentinel (the oracle for differential tests),
# redis-cli, openssl (certificates for the TLS tests), chromium (the
# headless browser the live page's test drives) and ZooKeeper 3.8 (the real
# ensemble the election tests watch and the Kafka controller uses). Safe to
# run again: it does nothing when they are present.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# The TLS tests make their certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The live page's test loads it in Debian's headless Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The partition suite cuts links between network namespaces with nftables.
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's zookeeper brings OpenJDK; the tests run its jar with java directly
# (no recommends: the server needs nothing else).
if [ ! -f /usr/share/java/zookeeper.jar ]; then
  echo "installing: zookeeper"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends zookeeper >/dev/null
fi

# Debian's packages start system services on the default ports; the demo
# and tests never use those ports, so they are left alone.
redis-server --version
ls /usr/share/java/zookeeper.jar
