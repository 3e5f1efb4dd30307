#!/usr/bin/env bash
# A learner's catch-up on a large state (issue 15): a local 3-node cluster is filled with
# --keys distinct keys of 256 B (4 M keys: about 1 GiB of keys and values), then
# `raftkv cluster add-node` starts node 4 empty; it joins as a learner, receives the snapshot
# and the log, and is promoted. Reports, in one run:
#   - fio's sequential write rate with fdatasync (1 MiB blocks) in the same directory;
#   - the catch-up time and the snapshot's size, so the stream rate beside fio's;
#   - writes/s and p99 of redis-benchmark -c 16 SET (256 B) before and during the catch-up.
#   bench/catch_up.sh [--keys N] [--server BIN]
# Loopback ports 24601-24634; everything under build/catch-up.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

build=build/release
server=$build/src/server/raftkv-server
keys=4000000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --server) server="$2"; shift 2 ;;
    *) sed -n '9p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
bench_install fio redis-tools
raftkv=$build/tools/raftkv/raftkv
work=build/catch-up
cluster=$work/cluster
stop_cluster() { "$raftkv" cluster stop --dir "$cluster" >/dev/null 2>&1 || true; }
trap stop_cluster EXIT
stop_cluster
rm -rf "$work" && mkdir -p "$work"
# `raftkv cluster stop` signals only processes whose command line names raftkv-server (a
# recycled pid must not be killed): a --server copy under another name would outlive the run.
cp "$server" "$work/raftkv-server"
server=$work/raftkv-server
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

fio --name=seq --directory="$work" --rw=write --bs=1M --size=512m --fdatasync=1 \
    --output-format=json >"$work/fio.json" 2>/dev/null
rm -f "$work"/seq.*
fio_mib_s=$(python3 -c "import json; j=json.load(open('$work/fio.json'))['jobs'][0]; \
print(round(j['write']['bw'] / 1024, 1))")
echo "fio sequential write, fdatasync per MiB: $fio_mib_s MiB/s"

"$raftkv" cluster start --dir "$cluster" --nodes 3 --server "$server" \
    --base-peer-port 24601 --base-client-port 24611 --base-http-port 24621 >/dev/null
leader_port() {
  "$raftkv" -e 127.0.0.1:24611,127.0.0.1:24612,127.0.0.1:24613 leader | \
    grep -o 'at 127.0.0.1:[0-9]*' | cut -d: -f2
}
port=$(leader_port)
# Keys drawn from 10^11: 4 M draws hold a handful of duplicates at most.
start=$(date +%s.%N)
redis-benchmark -p "$port" -t set -n "$keys" -r 100000000000 -d 256 -P 16 -c 16 -q \
    >/dev/null 2>&1
load_s=$(python3 -c "import time; print(round(time.time() - $start, 1))")
echo "loaded: $(redis-cli -p "$port" dbsize) keys in $load_s s"

# redis-benchmark's CSV line for SET: "SET","rps","avg","min","p50","p95","p99","max".
# A run that ends in errors (e.g. the leader changed under it) prints no CSV line: say so.
small_writes() {
  redis-benchmark -p "$port" -t set -n "$1" -r 100000000000 -d 256 -c 16 --csv 2>/dev/null |
    grep '^"SET"' | tr -d '"' | awk -F, '{printf "%.0f writes/s, p99 %s ms", $2, $7}' ||
    echo "no result (redis-benchmark failed; see the nodes' logs for a leader change)"
}
echo "before: $(small_writes 30000)"
# WAL syncs slower than 1 s on nodes 1-3 so far (raftkv_wal_sync_seconds): a leader whose sync
# stalls sends no heartbeats until it ends (the next Ready waits for it).
slow_syncs() {
  for http_port in 24621 24622 24623; do
    curl -s "http://127.0.0.1:$http_port/metrics" | awk '
      /^raftkv_wal_sync_seconds_bucket/ {
        le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
        if (le == "+Inf") total = $2; else if (le + 0 == 1) within = $2
      }
      END { printf "%d ", total - within }'
  done
}
slow_before=$(slow_syncs)

start=$(date +%s.%N)
"$raftkv" cluster add-node --dir "$cluster" >"$work/add-node.log" 2>&1 &
adder=$!
during=$(small_writes 30000)
wait "$adder" || echo "add-node failed: $(cat "$work/add-node.log")"
catch_up_s=$(python3 -c "import time; print(round(time.time() - $start, 1))")
echo "during: $during"
echo "WAL syncs over 1 s on nodes 1 2 3: before the catch-up $slow_before, after $(slow_syncs)"
# The snapshot node 4 received: the newest one of the nodes that were there (they snapshot
# at about the same index).
snapshot_bytes=0
for http_port in 24621 24622 24623; do
  bytes=$(curl -s "http://127.0.0.1:$http_port/metrics" | awk '/^raftkv_snapshot_bytes /{print $2}')
  snapshot_bytes=$(python3 -c "print(max(int(float('${bytes:-0}')), $snapshot_bytes))")
done
echo "node 4 caught up and promoted in $catch_up_s s (add-node: $(tail -1 "$work/add-node.log"))"
python3 -c "
mib = $snapshot_bytes / 2**20
rate = mib / $catch_up_s
print(f'snapshot {mib:.0f} MiB: {rate:.1f} MiB/s, {rate / $fio_mib_s:.2f}x fio')"
echo "after: $(small_writes 30000)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
candidates=$(grep -h 'became candidate' "$cluster"/node*/server.log | wc -l)
echo "elections after the cluster's first: $((candidates - 1))"
