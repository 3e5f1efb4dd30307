#!/usr/bin/env bash
# Snapshot policy A/B: 256 clients writing fresh 256-byte keys for --seconds into a fresh
# 3-node cluster, alternating two server flag sets in the same run:
#   every-100k  --snapshot-entries=100000 --snapshot-log-ratio=1  (the policy before 2026-11-26:
#               every 100,000 entries, whatever the state's size)
#   default     the log may grow to 4x the last snapshot (src/server/snapshot_policy.h)
#   bench/snapshot_policy.sh [--rounds N] [--seconds S] [--skip-build] [--build DIR]
# Prints one line per run and writes bench/results/<date>-snapshot-policy.md. Ports 24081-24103.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2
seconds=20
skip_build=0
build=build/bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --build) build="$2"; shift 2 ;;
    *) sed -n '7p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
build=$(realpath -m "$build")
source bench/lib.sh

scripts/setup.sh
bench_install fio redis-tools python3
if [[ $skip_build == 0 ]]; then
  if [[ ! -f "$build/build.ninja" ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  ninja -C "$build" raftkv-server raftkv raftkv-bench >"$build/snapshot-policy-build.log" 2>&1 ||
    { tail -30 "$build/snapshot-policy-build.log" >&2; exit 1; }
fi
raftkv=$build/tools/raftkv/raftkv
dir=$build/run/snapshot-policy
trap '"$raftkv" cluster stop --dir "$dir" >/dev/null 2>&1 || true' EXIT

# raftkv-bench's JSON line on stdin, the policy's name and the snapshot count as arguments.
row_of_json=$(cat <<'PY'
import json, sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
print("| %s | %s | %.2f | %.2f | %.1f | %d | %s |" % (
    sys.argv[1], format(round(r["throughput"]), ","), r["p50_ms"], r["p99_ms"], r["max_ms"],
    r["errors"], sys.argv[2]))
PY
)

# run NAME SERVER-ARGS...: one fresh cluster, one load; prints a Markdown table row.
run() {
  local name=$1 args=() port leader=""
  shift
  for arg in "$@"; do args+=("--server-arg=$arg"); done
  rm -rf "$dir"
  "$raftkv" cluster start --dir "$dir" --nodes 3 --server "$build/src/server/raftkv-server" \
    --base-peer-port 24081 --base-client-port 24091 --base-http-port 24101 "${args[@]}" >/dev/null
  for _ in $(seq 50); do
    for port in 24091 24092 24093; do
      redis-cli -p "$port" INFO raft 2>/dev/null | grep -q "role:leader" && leader=$port
    done
    [[ -n $leader ]] && break
    sleep 0.1
  done
  [[ -n $leader ]] || { echo "no leader elected" >&2; exit 1; }
  local json
  json=$("$build/tools/raftkv-bench/raftkv-bench" --target raftkv --endpoints "127.0.0.1:$leader" \
    --clients 256 --connections 64 --duration "$seconds" --warmup 1 --json --quiet 2>/dev/null)
  python3 -c "$row_of_json" "$name" "$(cat "$dir"/node*/server.log | grep -c "snapshot at index")" \
    <<<"$json"
  "$raftkv" cluster stop --dir "$dir" >/dev/null
}

fio_before=$(bench_fio "$build/run")
rows="| policy | writes/s | p50 ms | p99 ms | max ms | errors | snapshots (3 nodes) |
|---|---|---|---|---|---|---|"
for _ in $(seq "$rounds"); do
  rows+=$'\n'$(run every-100k --snapshot-entries=100000 --snapshot-log-ratio=1)
  rows+=$'\n'$(run default)
  echo "$rows" | tail -2
done
fio_after=$(bench_fio "$build/run")
mkdir -p bench/results
report=bench/results/$(date -u +%F)-snapshot-policy.md
{
  echo "# Snapshot policy A/B, $(date -u '+%F %H:%M') UTC"
  echo
  echo "256 clients, fresh 256-byte keys, ${seconds} s per run, fresh cluster per run;" \
       "commit $(git rev-parse --short HEAD), $(nproc) cores," \
       "load $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "fio fdatasync before: $fio_before; after: $fio_after."
  echo
  echo "$rows"
} >"$report"
cat "$report"
