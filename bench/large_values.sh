#!/usr/bin/env bash
# Large values: one client writes values of 1 to 64 MiB (through the leader, then through a
# follower) while redis-benchmark -c 50 writes 256-byte values; reports elections, ambiguous
# replies, latency and the other clients' p99 against their p99 alone (bench/large_values.py),
# and fio's sequential write rate with fdatasync for the throughput comparison: one writer
# alone, and one of three writers at once (what each of three nodes on one disk can get).
#   bench/large_values.sh [--server BIN] [--label NAME] [--sizes-mib "1,4,16,64"] [--writes N]
#                         [--throughput-clients N] [--server-arg ARG]...
# --throughput-clients N: only the throughput, N writers of --writes values each to the
# leader, with nothing else running (and fio).
# Writes build/large-values/NAME.jsonl and prints it. Loopback ports 24201-24223.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

build=build/release
server=$build/src/server/raftkv-server
label=current
sizes=1,4,16,64
writes=5
server_args=()
throughput=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;
    --sizes-mib) sizes="$2"; shift 2 ;;
    --writes) writes="$2"; shift 2 ;;
    --throughput-clients) throughput=(--throughput-clients "$2"); shift 2 ;;
    --server-arg) server_args+=(--server-arg "$2"); shift 2 ;;
    *) sed -n '7,10p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
bench_install fio redis-tools python3-redis
work=build/large-values
cluster=$work/cluster-$label
mkdir -p "$work"
stop_cluster() {
  "$build/tools/raftkv/raftkv" cluster stop --dir "$cluster" >/dev/null 2>&1 || true
}
trap stop_cluster EXIT
rm -rf "$cluster"
"$build/tools/raftkv/raftkv" cluster start --dir "$cluster" --nodes 3 --server "$server" \
    --log-level info --base-peer-port 24201 --base-client-port 24211 --base-http-port 24221 \
    "${server_args[@]}" >"$work/start-$label.log" 2>&1 ||
  { cat "$work/start-$label.log" >&2; exit 1; }
sleep 2
fio --name=seq --directory="$work" --rw=write --bs=1M --size=256m --fdatasync=1 \
    --output-format=json >"$work/fio.json" 2>/dev/null
rm -f "$work"/seq.*
disk_mib_s=$(python3 -c "import json; j=json.load(open('$work/fio.json'))['jobs'][0]; \
print(round(j['write']['bw'] / 1024, 1))")
# The floor for a replicated value on one machine: the three nodes share this one disk, and
# each writes every value with fdatasync, so three such writers at once, each getting a third
# of the disk, are what a local cluster can at best replicate at (on separate disks, as
# deployed, the single writer above is the floor).
fio --name=three --directory="$work" --rw=write --bs=1M --size=256m --fdatasync=1 \
    --numjobs=3 --group_reporting --output-format=json >"$work/fio3.json" 2>/dev/null
rm -f "$work"/three.*
floor_mib_s=$(python3 -c "import json; j=json.load(open('$work/fio3.json'))['jobs'][0]; \
print(round(j['write']['bw'] / 1024 / 3, 1))")
echo "{\"fio_seq_write_fdatasync_mib_per_s\": $disk_mib_s, \
\"fio_one_of_three_writers_mib_per_s\": $floor_mib_s}" | tee "$work/$label.jsonl"
bench/large_values.py --ports 24211,24212,24213 --sizes-mib "$sizes" --writes "$writes" \
    "${throughput[@]}" |
  tee -a "$work/$label.jsonl"
