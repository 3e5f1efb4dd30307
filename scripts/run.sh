#!/usr/bin/env bash
# The main job, from a fresh machine: installs what is missing, builds, and runs the narrated
# simulation of a 3-node cluster (election, heartbeats, leader failure, re-election, a client
# write reaching every node). Extra arguments go to raftkv-sim (try --seed=N).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh release raftkv-sim >/dev/null
exec build/release/tools/raftkv-sim/raftkv-sim --demo "$@"
