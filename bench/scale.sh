#!/usr/bin/env bash
# How raftkv holds up as its keyspace grows (issue 20's scale goals), in one run:
#   - a local 3-node cluster is filled with distinct keys of 16 B and values of 256 B up to
#     each step of --steps, and at each step redis-benchmark -c 256 SET measures writes/s and
#     p99 (--measure requests of fresh keys), and every node's RSS gives bytes per key;
#   - the load rate of each fill, the last snapshot's size and write time (from the nodes'
#     logs), and at the end a restart of the whole cluster: the time until every node has
#     applied what was committed before the stop, beside fio's sequential read of as many
#     bytes as the largest node's data directory holds.
#   bench/scale.sh [--steps "0 1000000 5000000 10000000"] [--measure N] [--server BIN]
# The default steps are issue 20's. Memory bounds them on one machine: three nodes hold the
# keyspace three times, and at about 400 B per key (2026-12-07) 10M keys take about 11 GiB
# in all. The run takes about 4 minutes (bench/results/2026-12-07-scale-10m-trie.md).
# Loopback ports 24701-24723; everything under build/scale; report in build/scale/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

build=build/release
server=$build/src/server/raftkv-server
steps="0 1000000 5000000 10000000"
measure=200000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --measure) measure="$2"; shift 2 ;;
    --server) server="$2"; shift 2 ;;
    *) sed -n '10p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
bench_install fio redis-tools curl
raftkv=$build/tools/raftkv/raftkv
work=$PWD/build/scale
cluster=$work/cluster
report=$work/report.md
readonly CLIENT_PORT=24711 HTTP_PORT=24721
endpoints=127.0.0.1:$CLIENT_PORT,127.0.0.1:$((CLIENT_PORT + 1)),127.0.0.1:$((CLIENT_PORT + 2))
stop_cluster() { "$raftkv" cluster stop --dir "$cluster" >/dev/null 2>&1 || true; }
trap stop_cluster EXIT
stop_cluster
rm -rf "$work" && mkdir -p "$work"

elapsed_since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }
leader_port() { "$raftkv" -e "$endpoints" leader | grep -o 'at 127.0.0.1:[0-9]*' | cut -d: -f2; }
node_rss_mib() {  # Each node's VmRSS in MiB, space-separated.
  local pid
  for pid in $(pgrep -f "raftkv-server.*$cluster" | sort -n); do
    awk '/^VmRSS/{printf "%.0f ", $2 / 1024}' "/proc/$pid/status"
  done
}
# fill COUNT: COUNT more distinct keys (drawn from 10^11: duplicates are negligible).
fill() {
  ((${1} > 0)) || return 0
  redis-benchmark -p "$(leader_port)" -t set -n "$1" -r 100000000000 -d 256 -P 16 -c 16 -q \
      >/dev/null 2>&1
}
# One redis-benchmark SET run of fresh keys, 256 clients: "writes/s p50 p99".
measure_writes() {
  redis-benchmark -p "$(leader_port)" -t set -n "$measure" -r 100000000000 -d 256 -c 256 \
      --csv 2>/dev/null | grep '^"SET"' | tr -d '"' | awk -F, '{print $2, $5, $7}'
}
status_field() {  # status_field HTTP_PORT FIELD
  curl -s "http://127.0.0.1:$1/status" |
    python3 -c "import json, sys; print(json.load(sys.stdin)['$2'])"
}

{
  echo "# raftkv as the keyspace grows ($(date -u +%F), commit $(git rev-parse --short HEAD))"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/2^20}' /proc/meminfo)"
  echo "- load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$report"
fio --name=seq --directory="$work" --rw=write --bs=1M --size=1g --fdatasync=1 \
    --output-format=json >"$work/fio-write.json" 2>/dev/null
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
fio --name=seq --directory="$work" --rw=read --bs=1M --size=1g \
    --output-format=json >"$work/fio-read.json" 2>/dev/null
rm -f "$work"/seq.*
fio_rate() { python3 -c "import json; j=json.load(open('$1'))['jobs'][0]; \
print(round(j['$2']['bw'] / 1024, 1))"; }
fio_write=$(fio_rate "$work/fio-write.json" write)
fio_read=$(fio_rate "$work/fio-read.json" read)
echo "- fio, 1 MiB blocks: sequential write with fdatasync $fio_write MiB/s, read $fio_read MiB/s"

"$raftkv" cluster start --dir "$cluster" --nodes 3 --server "$server" --log-level info \
    --base-peer-port 24701 --base-client-port "$CLIENT_PORT" --base-http-port "$HTTP_PORT" \
    >/dev/null
{
  echo
  echo "| keys | fill rate keys/s | SET -c 256 writes/s | p50 ms | p99 ms |" \
       "RSS MiB per node | bytes per key (largest node) |"
  echo "|---|---|---|---|---|---|---|"
} >>"$report"
keys=0
for step in $steps; do
  before=$keys
  start=$(date +%s.%N)
  fill $((step - keys))
  fill_s=$(elapsed_since "$start")
  keys=$(redis-cli -p "$(leader_port)" dbsize)
  rate=$(python3 -c "print(round(($keys - $before) / $fill_s) if $keys > $before else '')")
  read -r writes p50 p99 < <(measure_writes) || { writes="failed"; p50=""; p99=""; }
  rss=$(node_rss_mib)
  per_key=$(python3 -c "
keys = $keys; rss = max(map(int, '$rss'.split()))
print(round(rss * 2**20 / keys) if keys > 50000 else '')")
  echo "| $keys | $rate | $writes | $p50 | $p99 | $rss | $per_key |" | tee -a "$report"
  keys=$(redis-cli -p "$(leader_port)" dbsize)  # The measurement added fresh keys too.
done

# The last snapshot each node wrote: "snapshot at index I (term T, B bytes) written in M ms".
{
  echo
  echo "Raw data: 272 bytes per key (16 B key, 256 B value). Last snapshot per node:"
  echo
  for log in "$cluster"/node*/server.log; do
    line=$(grep -h 'snapshot at index' "$log" | tail -1 |
             grep -o 'index [0-9]* (term [0-9]*, [0-9]* bytes) written in [0-9]* ms' || true)
    echo "- $(basename "$(dirname "$log")"): ${line:-no snapshot}"
  done
} | tee -a "$report"

# Restart: stop every node (SIGTERM), start again from the data, and time until every node
# has applied the commit index it had before the stop.
commit=$(status_field "$HTTP_PORT" commit)
data_mib=$(du -sm "$cluster"/node* | sort -n | tail -1 | cut -f1)
stop_cluster
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
start=$(date +%s.%N)
"$raftkv" cluster start --dir "$cluster" --server "$server" >/dev/null
for port in $HTTP_PORT $((HTTP_PORT + 1)) $((HTTP_PORT + 2)); do
  until applied=$(status_field "$port" applied 2>/dev/null) && ((applied >= commit)); do
    sleep 0.2
  done
done
restart_s=$(elapsed_since "$start")
python3 - "$restart_s" "$data_mib" "$fio_read" <<'PY' | tee -a "$report"
import sys
restart, data_mib, fio_read = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
read_s = data_mib / fio_read
print(f"\nRestart of all three nodes (page cache dropped first, when allowed): {restart:.1f} s "
      f"until each applied the pre-stop commit index; the largest data dir holds {data_mib:.0f} "
      f"MiB, which fio reads in {read_s:.1f} s: {restart / read_s:.1f}x the disk's read time.")
PY
echo "- load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$report"
echo "report: $report"
