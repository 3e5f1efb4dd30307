#!/usr/bin/env bash
# Memory per key (issue 20): loads the same N distinct keys (16 bytes, `key:` and digits, each
# with the same 256-byte value) into a 3-node raftkv cluster, a 3-node etcd cluster and one
# local Redis (appendonly, appendfsync always), one system after the other, in the same run,
# and reports each node's resident set (VmRSS) against the raw bytes, N x (16 + 256).
#   bench/memory_per_key.sh [--keys N] [--systems "after before etcd redis"] [--server PATH]
#                           [--baseline PATH] [--settle S] [--clients C] [--build DIR]
#                           [--bench PATH]
#   --keys      distinct keys to load (default 1,000,000)
#   --systems   what to measure, in this order (default "after before etcd redis"; "before"
#               needs --baseline)
#   --server    the raftkv-server measured as "after" (default DIR/src/server/raftkv-server)
#   --baseline  a raftkv-server to measure as "before", e.g. main's, named raftkv-server
#   --settle    idle seconds between the end of the load and the second sample (default 20):
#               snapshots and log compaction run, allocators return what they keep
#   --clients   writers (default 64, on 64 connections)
#   --bench     a raftkv-bench built with -DRAFTKV_ETCD_BENCH=ON (default DIR's), for etcd
# Every system is loaded by raftkv-bench's prefill (keys 0..N-1, the same key and value
# bytes for all three: its etcd driver writes them with Put, its RESP driver with SET).
# Writes build/memory-per-key/report.md and prints it. Loopback ports 26300-26330 unless
# MEMKEY_BASE_PORT says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

keys=1000000
systems="after before etcd redis"
server=""
baseline=""
settle=20
clients=64
build=build/release
bench_bin=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --systems) systems="$2"; shift 2 ;;
    --server) server="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --bench) bench_bin="$2"; shift 2 ;;
    *) sed -n '6,8p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
server=${server:-$build/src/server/raftkv-server}
raftkv=$build/tools/raftkv/raftkv
bench_bin=${bench_bin:-$build/tools/raftkv-bench/raftkv-bench}
[[ $keys =~ ^[1-9][0-9]*$ ]] || { echo "memory_per_key: --keys wants a count" >&2; exit 2; }
for binary in "$server" "$raftkv" "$bench_bin" ${baseline:+"$baseline"}; do
  [[ -x "$binary" ]] || { echo "memory_per_key: not an executable: '$binary'" >&2; exit 2; }
done
if [[ " $systems " == *" before "* ]]; then
  [[ -n "$baseline" ]] || { echo "memory_per_key: 'before' needs --baseline" >&2; exit 2; }
  # `raftkv cluster stop` recognizes its nodes by this name; another would be left running.
  [[ $(basename "$baseline") == raftkv-server ]] ||
    { echo "memory_per_key: --baseline must be named raftkv-server" >&2; exit 2; }
fi

source bench/lib.sh
[[ " $systems " != *" etcd "* ]] || bench_require_etcd_target memory_per_key "$bench_bin" "$build"
source bench/compare/etcd.sh
bench_install etcd-server redis-server redis-tools python3 curl
readonly BASE_PORT=${MEMKEY_BASE_PORT:-26300}
readonly PEER_PORT=$BASE_PORT CLIENT_PORT=$((BASE_PORT + 5)) HTTP_PORT=$((BASE_PORT + 10))
readonly REDIS_PORT=$((BASE_PORT + 15))
ETCD_CLIENT_PORT=$((BASE_PORT + 20))
ETCD_PEER_PORT=$((BASE_PORT + 25))
readonly KEY_BYTES=16 VALUE_BYTES=256
work=$(realpath -m build/memory-per-key)
results=$work/results.tsv
mkdir -p "$work"
: >"$results"
log() { echo "memory_per_key: $*" >&2; }

stop_all() {
  [[ ! -f "$work/raftkv/cluster.conf" ]] || "$raftkv" cluster stop --dir "$work/raftkv" \
      >/dev/null 2>&1 || true
  etcd_stop "$work/etcd" 2>/dev/null || true
  if [[ -f "$work/redis.pid" ]]; then
    kill "$(<"$work/redis.pid")" 2>/dev/null || true
    rm -f "$work/redis.pid"
  fi
}
trap 'status=$?; stop_all; exit $status' EXIT
trap 'exit 130' INT TERM

# pids SYSTEM: the pid of each node, one a line, node 1 first.
pids() {
  case "$1" in
    after|before) cat "$work"/raftkv/node{1,2,3}/server.pid ;;
    etcd) for id in 1 2 3; do etcd_node_pid "$work/etcd" "$id"; done ;;
    redis) cat "$work/redis.pid" ;;
  esac
}

# start SYSTEM: starts it on empty data; prints the endpoints, leader first, and the target.
start() {
  local system=$1 binary endpoints=""
  case "$system" in
    after|before)
      binary=$server
      [[ $system == after ]] || binary=$baseline
      rm -rf "$work/raftkv"
      "$raftkv" cluster start --dir "$work/raftkv" --nodes 3 --server "$binary" \
          --log-level warn --base-peer-port "$PEER_PORT" --base-client-port "$CLIENT_PORT" \
          --base-http-port "$HTTP_PORT" >"$work/start.log" 2>&1 ||
        { cat "$work/start.log" >&2; log "$system failed to start"; exit 1; }
      for port in $(seq "$CLIENT_PORT" $((CLIENT_PORT + 2))); do
        endpoints+="${endpoints:+,}127.0.0.1:$port"
      done
      echo "$(bench/compare/cluster.py --system raftkv --endpoints "$endpoints" --wait 30 |
                awk '{print $2}') raftkv" ;;
    etcd)
      etcd_start "$work/etcd"
      echo "$(bench/compare/cluster.py --system etcd --endpoints "$(etcd_endpoints)" --wait 30 |
                awk '{print $2}') etcd" ;;
    redis)
      rm -rf "$work/redis"
      mkdir -p "$work/redis"
      redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis" --save "" \
          --appendonly yes --appendfsync always --daemonize yes \
          --pidfile "$work/redis.pid" --logfile "$work/redis/redis.log" >/dev/null
      for _ in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.1
      done
      echo "127.0.0.1:$REDIS_PORT raftkv" ;;  # raftkv-bench's RESP driver.
  esac
}

# sample SYSTEM PHASE: one line per node: system, phase, node, VmRSS KiB.
sample() {
  local id=0 pid rss
  for pid in $(pids "$1"); do
    id=$((id + 1))
    read -r _ rss < <(bench_rss_kb "$pid") || rss=NaN
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$id" "$rss" >>"$results"
  done
}

# keys_held SYSTEM ENDPOINT: the number of keys the system reports holding.
keys_held() {
  case "$1" in
    # etcd's gRPC gateway: a count-only range over every key ("\0" to "\0", base64).
    etcd) curl -s -X POST "http://$2/v3/kv/range" \
               -d '{"key": "AA==", "range_end": "AA==", "count_only": true}' |
            python3 -c 'import json, sys; print(json.load(sys.stdin).get("count", 0))' ;;
    *) redis-cli -h "${2%:*}" -p "${2##*:}" dbsize ;;
  esac
}

measure() {  # SYSTEM
  local system=$1 endpoints target started seconds held
  read -r endpoints target < <(start "$system")
  log "$system: loading $keys keys through $endpoints"
  started=$(date +%s%N)
  # --ops 1: the prefill is the load; one measured read ends the run.
  "$bench_bin" --target "$target" --endpoints "$endpoints" --clients "$clients" \
      --connections "$clients" --key-size "$KEY_BYTES" --value-size "$VALUE_BYTES" \
      --prefill "$keys" --ops 1 --read-ratio 1 --quiet >"$work/$system-load.log" 2>&1 ||
    { tail -5 "$work/$system-load.log" >&2; log "$system: load failed"; exit 1; }
  seconds=$(awk -v ns=$(($(date +%s%N) - started)) 'BEGIN {printf "%.1f", ns / 1e9}')
  printf '%s\tload_s\t0\t%s\n' "$system" "$seconds" >>"$results"
  held=$(keys_held "$system" "${endpoints%%,*}")
  [[ $held == "$keys" ]] || { log "$system holds $held keys, not $keys"; exit 1; }
  sample "$system" loaded
  sleep "$settle"
  sample "$system" settled
  log "$system: $(grep -P "^$system\tsettled" "$results" | awk '{printf "%.0f ", $4 / 1024}')MiB"
  stop_all
}

stop_all  # Whatever a killed earlier run left behind (found by its pid files).
uptime >"$work/uptime-start"
for system in $systems; do measure "$system"; done
uptime >"$work/uptime-end"

python3 - "$results" "$keys" "$((KEY_BYTES + VALUE_BYTES))" "$settle" "$work" \
    >"$work/report.md" <<'PY'
import sys
path, keys, raw_per_key, settle, work = sys.argv[1:]
keys, raw_per_key = int(keys), int(raw_per_key)
rows, load = {}, {}
for line in open(path):
    system, phase, node, value = line.rstrip("\n").split("\t")
    if phase == "load_s":
        load[system] = float(value)
    else:
        rows.setdefault(system, {}).setdefault(phase, []).append(float(value) * 1024)
raw = keys * raw_per_key
print(f"# Memory per key: {keys:,} keys of {raw_per_key} raw bytes ({raw / 2**20:,.0f} MiB)\n")
print(f"Load average: {open(work + '/uptime-start').read().strip()} (start); "
      f"{open(work + '/uptime-end').read().strip()} (end)\n")
print("| system | load s | keys/s | RSS MiB per node, loaded | RSS MiB per node, "
      f"after {settle} s | bytes/key (max node, after) | x raw |")
print("|---|---|---|---|---|---|---|")
for system, phases in rows.items():
    loaded = " / ".join(f"{v / 2**20:,.0f}" for v in phases.get("loaded", []))
    settled = " / ".join(f"{v / 2**20:,.0f}" for v in phases.get("settled", []))
    peak = max(phases.get("settled", [float("nan")]))
    print(f"| {system} | {load[system]:.1f} | {keys / load[system]:,.0f} | {loaded} | {settled} | "
          f"{peak / keys:,.0f} | {peak / raw:.2f} |")
print("\nraftkv and etcd: nodes 1-3 (node 1 is not necessarily the leader); Redis: one process.")
PY
cat "$work/report.md"
