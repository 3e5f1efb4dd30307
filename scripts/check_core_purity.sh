#!/usr/bin/env bash
# src/raft and src/kv stay pure (shared/DESIGN.md): no I/O, threads, wall clocks or global
# randomness, so that the simulator can drive them deterministically. Exits non-zero naming
# every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."

pattern='#include *<(asio|boost/asio|thread|fstream|filesystem|mutex|condition_variable|future|random|chrono)>'
pattern+='|std::(this_thread|random_device|rand\(|chrono::)|\b(fopen|fsync|fdatasync|usleep|srand|time)\('
pattern+='|::(open|read|write|close)\('
dirs=()
for dir in src/raft src/kv; do [[ -d $dir ]] && dirs+=("$dir"); done
found=$(grep -rnE "$pattern" "${dirs[@]}" | grep -vE '^\S+:[0-9]+:\s*//' || true)
if [[ -n "$found" ]]; then
  echo "the pure core must not use I/O, threads, clocks or global randomness:" >&2
  echo "$found" >&2
  exit 1
fi
echo "core purity: ok (${dirs[*]})"
