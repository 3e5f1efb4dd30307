#!/usr/bin/env bash
# Configures and builds one flavour of raftkv. Usage: scripts/build.sh [release|asan] [targets...]
#   release  RelWithDebInfo in build/release (the default)
#   asan     AddressSanitizer + UndefinedBehaviorSanitizer in build/asan (tests only)
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
shift || true
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DRAFTKV_SANITIZE=ON -DRAFTKV_BENCH=OFF) ;;
  *) echo "usage: $0 [release|asan] [targets...]" >&2; exit 2 ;;
esac

dir=build/$flavour
if [[ ! -f $dir/build.ninja ]]; then
  cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
jobs=${RAFTKV_JOBS:-$(nproc)}
if [[ $# -gt 0 ]]; then
  cmake --build "$dir" -j "$jobs" --target "$@"
else
  cmake --build "$dir" -j "$jobs"
fi
