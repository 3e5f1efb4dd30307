#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#   tests/fuzz/run.sh                   # CI: 20 s per target
#   tests/fuzz/run.sh --seconds 3600    # a longer run (an hour per target), e.g. nightly
#   FUZZ_SECONDS=3600 tests/fuzz/run.sh # the same, from the environment
# Corpora live in build/fuzz/corpus/<target> (kept between runs); seeds are generated from
# valid files. A crash leaves crash-* in build/fuzz/artifacts; turn it into a regression test
# in tests/unit/storage before fixing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build/fuzz}"
seconds="${FUZZ_SECONDS:-20}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done
jobs="${FUZZ_JOBS:-2}"

CXX="${CXX_FUZZ:-clang++-14}" cmake -S "$root" -B "$build" -G Ninja -DRAFTKV_FUZZ=ON \
  -DRAFTKV_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null  # -g1: scripts/build.sh says why
cmake --build "$build" --target fuzz_all -j"$jobs"
targets=()
for binary in "$build"/tests/fuzz/*_fuzz; do targets+=("$(basename "$binary")"); done

mkdir -p "$build/artifacts"
"$build/tests/fuzz/fuzz_seed_corpus" "$build/corpus"
status=0
for target in "${targets[@]}"; do
  mkdir -p "$build/corpus/$target"
  echo "== $target for ${seconds}s"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len=65536 \
      -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 \
      "$build/corpus/$target" 2>"$build/$target.log"; then
    echo "FAILED: $target (see $build/$target.log and $build/artifacts)"
    tail -40 "$build/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/$target.log" | tail -2 || true
  fi
done
exit "$status"
