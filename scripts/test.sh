#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test of the
# workspace (unit, simulation and end-to-end tests with real processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo test --workspace --no-fail-fast 2>&1
