#!/bin/sh
# Soak the simulator: every scenario over many seeds, in parallel worker processes.
#   tests/sim/soak.sh [SEEDS] [JOBS] [SCALE] [FIRST_SEED]
# SEEDS per scenario (default 2000), JOBS worker processes (default: number of CPUs), SCALE
# lengthens the long-running scenarios (default 1), FIRST_SEED (default 1000, past CI's 1-200).
# Each failing seed is printed with the one command that replays it. RAFTKV_SIM_BIN overrides
# the binary; by default the release build's, built first if missing.
set -eu
cd "$(dirname "$0")/../.."
seeds=${1:-2000}
jobs=${2:-$(nproc)}
scale=${3:-1}
first=${4:-1000}
bin=${RAFTKV_SIM_BIN:-}
if [ -z "$bin" ]; then
  bin=build/release/tools/raftkv-sim/raftkv-sim
  scripts/build.sh release raftkv-sim >/dev/null
fi
exec "$bin" --scenario=all --seeds="$seeds" --jobs="$jobs" --scale="$scale" --first-seed="$first"
