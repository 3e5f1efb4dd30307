#!/usr/bin/env bash
# Side-by-side figure for raftkv-server (issue 4 §8): redis-benchmark SET with 256-byte values
# against a local 3-node cluster (fsync on every node for every acknowledged write), next to
# the same disk's limit measured by fio in the same run (one 4 KiB write + fdatasync at a time).
# The disk of these machines is shared and drifts within a minute, so every case is bracketed
# by two short fio runs and reported as a ratio to their mean.
#   bench/server_bench.sh [--requests N] [--dir D]
# Writes bench/results/<date>-server.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=50000
dir=/tmp/raftkv-bench
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--dir D]" >&2; exit 2 ;;
  esac
done

source bench/lib.sh
scripts/setup.sh
bench_install fio redis-tools python3
scripts/build.sh release raftkv raftkv-server >/dev/null
raftkv=build/release/tools/raftkv/raftkv

rm -rf "$dir" && mkdir -p "$dir"
cleanup() { "$raftkv" cluster stop --dir "$dir/cluster" >/dev/null 2>&1 || true; }
trap cleanup EXIT

fio_iops() {  # One write+fdatasync at a time for 3 s: prints IOPS and p50 sync latency (us).
  bench_fio "$dir/fio" 3 | cut -d' ' -f1-2
}

"$raftkv" cluster start --dir "$dir/cluster" --nodes 3 --log-level warn >/dev/null
leader_port=""
for _ in $(seq 50); do
  leader=$("$raftkv" leader 2>/dev/null | grep -oE '127\.0\.0\.1:[0-9]+' | head -1 || true)
  [[ -n "$leader" ]] && { leader_port=${leader##*:}; break; }
  sleep 0.2
done
[[ -n "$leader_port" ]] || { echo "no leader elected" >&2; exit 1; }

results="bench/results/$(date -u +%Y-%m-%d)-server.md"
mkdir -p bench/results
{
  echo "# raftkv-server vs the disk's fdatasync limit, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg). 3 nodes on loopback,"
  echo "one disk, fsync on every node per acknowledged write. redis-benchmark SET, 256-byte"
  echo "values, $requests requests, to the leader. fio: 4 KiB write + fdatasync, queue depth 1,"
  echo "before and after each case."
  echo
  echo "| case | raftkv SET/s | p50 ms | fio IOPS (mean of 2) | fio p50 sync us | ratio |"
  echo "|---|---|---|---|---|---|"
} >"$results"

run_case() {  # name, then redis-benchmark arguments.
  local name=$1
  shift
  read -r iops_before sync_before < <(fio_iops)
  local csv
  csv=$(redis-benchmark -p "$leader_port" -t set -d 256 -n "$requests" --csv "$@" 2>/dev/null |
        grep '"SET"' | tail -1)
  read -r iops_after sync_after < <(fio_iops)
  python3 - "$name" "$csv" "$iops_before" "$iops_after" "$sync_before" "$sync_after" \
      >>"$results" <<'PY'
import sys
name, csv, ib, ia, sb, sa = sys.argv[1:]
fields = [f.strip('"') for f in csv.split(",")]
rps, p50 = float(fields[1]), float(fields[4])  # test,rps,avg,min,p50,...
iops = (float(ib) + float(ia)) / 2
print(f"| {name} | {rps:,.0f} | {p50:.2f} | {iops:,.0f} | {(float(sb)+float(sa))/2:.0f} "
      f"| {rps/iops:.2f}x |")
PY
}

run_case "-c 1" -c 1 -n $((requests / 10))
run_case "-c 50" -c 50
run_case "-c 256" -c 256
run_case "-c 50 -P 16" -c 50 -P 16
cat "$results"
