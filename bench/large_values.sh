#!/usr/bin/env bash
# Large values: one client writes values of 1 to 64 MiB (through the leader, then through a
# follower) while redis-benchmark -c 50 writes 256-byte values; reports elections, ambiguous
# replies, latency and the other clients' p99 against their p99 alone (bench/large_values.py),
# and, for the throughput comparison, fio's sequential write rate with fdatasync and two
# floors: the disk's (bench/floor/large_value_floor.cc: what the disk must do for one
# replicated write of a 3-node cluster on one disk) and the network's too
# (bench/floor/replication_floor.cc: four processes on loopback, client, leader and two
# followers, doing only the copies and syncs a replicated write needs).
#   bench/large_values.sh [--server BIN] [--label NAME] [--sizes-mib "1,4,16,64"] [--writes N]
#                         [--throughput-clients N [--rounds N] [--keys N]] [--server-arg ARG]...
# --throughput-clients N: only the throughput, N writers of --writes values each to the
# leader, with nothing else running, against fio and the floors (bench/floor), --rounds times
# (default 3) alternating; then --sizes-mib is one size, and a failed write makes the rate -1.
# --keys N: each writer rewrites N keys, so the state stops growing (steady state).
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
writers=0
rounds=3
keys=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;
    --sizes-mib) sizes="$2"; shift 2 ;;
    --writes) writes="$2"; shift 2 ;;
    --throughput-clients) writers="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --server-arg) server_args+=(--server-arg "$2"); shift 2 ;;
    *) sed -n '10,16p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
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

# fio's sequential write rate with an fdatasync per MiB: the disk's own rate.
measure_fio() {
  fio --name=seq --directory="$work" --rw=write --bs=1M --size=256m --fdatasync=1 \
      --output-format=json >"$work/fio.json" 2>/dev/null
  rm -f "$work"/seq.*
  python3 -c "import json; j=json.load(open('$work/fio.json'))['jobs'][0]; \
print(round(j['write']['bw'] / 1024, 1))"
}
# The floor for a replicated value on one machine (bench/floor/large_value_floor.cc): three
# writers append every value with fdatasync to one file each on this disk, a value commits
# when two have synced it. On separate disks, as deployed, fio's rate would be the floor.
measure_floor() {
  "$build/bench/large_value_floor" --dir "$work/floor" --value-mib "$1" --values 32 |
    python3 -c "import json, sys; print(json.load(sys.stdin)['mib_per_s'])"
}
# The floor with the network in it (bench/floor/replication_floor.cc), one client as raftkv's
# one writer: it bounds what three nodes sharing this machine's cores can do.
measure_netfloor() {
  "$build/bench/replication_floor" --dir "$work/netfloor" --seconds 3 --warmup 0.5 \
      --record-bytes $(($1 << 20)) |
    python3 -c "import json, sys; print(json.load(sys.stdin)['mib_per_s'])"
}
# raftkv's rate: `writers` clients each writing `writes` values to the leader.
measure_raftkv() {
  bench/large_values.py --ports 24211,24212,24213 --sizes-mib "$1" --writes "$writes" \
      --throughput-clients "$writers" --keys "$keys" | tee -a "$work/$label-raftkv.jsonl" |
    python3 -c "import json, sys; r=json.load(sys.stdin); \
print(r['mib_per_s'] if r['failed'] == 0 else -1)"
}

if [[ $writers -gt 0 ]]; then
  # Throughput only: per round, fio, the floors and raftkv in turn, the order rotating from
  # round to round so that no one of them always runs first on a warm or a cold disk.
  : >"$work/$label.jsonl"
  : >"$work/$label-raftkv.jsonl"
  names=(fio floor netfloor raftkv)
  for ((round = 1; round <= rounds; round++)); do
    declare -A rate=()
    for ((turn = 0; turn < ${#names[@]}; turn++)); do
      name=${names[$(((round - 1 + turn) % ${#names[@]}))]}
      rate[$name]=$("measure_$name" "$sizes")
    done
    echo "{\"round\": $round, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \
\"value_mib\": $sizes, \"writers\": $writers, \"fio_mib_per_s\": ${rate[fio]}, \
\"floor_mib_per_s\": ${rate[floor]}, \"netfloor_mib_per_s\": ${rate[netfloor]}, \
\"raftkv_mib_per_s\": ${rate[raftkv]}, \
\"raftkv_to_floor\": $(python3 -c "print(round(${rate[raftkv]} / ${rate[floor]}, 2))"), \
\"raftkv_to_netfloor\": $(python3 -c "print(round(${rate[raftkv]} / ${rate[netfloor]}, 2))"), \
\"netfloor_to_fio\": $(python3 -c "print(round(${rate[netfloor]} / ${rate[fio]}, 2))"), \
\"raftkv_to_fio\": $(python3 -c "print(round(${rate[raftkv]} / ${rate[fio]}, 2))"), \
\"raftkv_cpu_ms_per_write\": $(tail -n 1 "$work/$label-raftkv.jsonl" | python3 -c "import json, \
sys; print(json.dumps(sorted((n['role'], n['cpu_ms']) for n in json.load(sys.stdin)['per_write_per_node'])))")}" |
      tee -a "$work/$label.jsonl"
    unset rate
  done
  exit 0
fi
disk_mib_s=$(measure_fio)
floor_mib_s=$(measure_floor 16)
echo "{\"fio_seq_write_fdatasync_mib_per_s\": $disk_mib_s, \
\"floor_16_mib_values_mib_per_s\": $floor_mib_s}" | tee "$work/$label.jsonl"
bench/large_values.py --ports 24211,24212,24213 --sizes-mib "$sizes" --writes "$writes" |
  tee -a "$work/$label.jsonl"
