#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, builds, runs.
#   1. unit and simulation tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   2. the fuzz targets for a short bounded time each;
#   3. everything in the release build (its CTest summary line closes the run).
# Longer runs: tests/sim/soak.sh (simulator seeds), tests/fuzz/run.sh (fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage says how long it took: CI allows 90 minutes on 2 cores, the suite aims at 30.
stage_start=$SECONDS
stage_done() {
  echo "== $1 took $((SECONDS - stage_start)) s (total $SECONDS s)"
  stage_start=$SECONDS
}

scripts/setup.sh
stage_done setup

echo "== ASan+UBSan build: unit and simulation tests"
# Only the test binaries: the process tests and tools run in the release build below.
scripts/build.sh asan protocol_unit_tests raft_unit_tests runtime_unit_tests storage_unit_tests \
  kv_unit_tests net_unit_tests server_unit_tests client_unit_tests raftkv_sim_test \
  lincheck_unit_tests lazyfs_unit_tests
# The release build runs every scenario over 200 seeds; here 40 each find memory errors.
(cd build/asan && RAFTKV_SIM_SEEDS="${RAFTKV_ASAN_SIM_SEEDS:-40}" \
  ctest --output-on-failure -L 'unit|sim_smoke|lint' -j "$(nproc)")
stage_done "ASan+UBSan build and tests"

echo "== fuzz smoke: every decoder of outside bytes, briefly"
tests/fuzz/run.sh --seconds "${RAFTKV_FUZZ_SECONDS:-10}"
stage_done "fuzz build and smoke"

echo "== release build: the whole suite"
scripts/build.sh release
stage_done "release build"
cd build/release && ctest --output-on-failure -j "$(nproc)"
