#!/usr/bin/env bash
# raftkv, etcd and Redis, each driven by its own standard load tool, in one run (issue 20 §1):
# raftkv and Redis by redis-benchmark (one connection per client, no pipelining unless -P),
# etcd by bench/etcd_load (etcd's `benchmark` load model; etcd's tool is not in Debian).
#   bench/independent.sh [--rounds N] [--scale F] [--base-port P] [--dir D] [--build DIR]
#   --rounds     turns per system (default 2); each round runs raftkv, etcd and Redis one after
#                the other, never two at once, the order reversed every other round
#   --scale      multiplies every request count (default 1: 5 to 10 s per case on a quiet
#                2-core machine)
#   --base-port  first of the 50 loopback ports used (default 24401)
#   --dir        scratch directory, emptied first (default /tmp/raftkv-independent)
#   --build      build dir with raftkv and raftkv-server (default build/release)
# Each turn starts its system afresh (3-node raftkv and etcd clusters, heartbeat 100 ms,
# election 1000 ms; one redis-server), loads the leader, and records the load average before
# and after; fio measures the disk at the start and after every turn. Keys are 16 bytes,
# values 256. Writes bench/results/<date>-independent.{md,jsonl} and prints the report: every
# goal of issue 20 as a ratio of the best rounds, every round beside it. Exits 1 if a system
# does not start, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2
scale=1
base_port=24401
dir=/tmp/raftkv-independent
build=build/release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $base_port =~ ^[0-9]+$ ]] ||
  { echo "independent: --rounds and --base-port want positive integers" >&2; exit 2; }

source bench/lib.sh
source bench/compare/etcd.sh
bench_install etcd-server redis-server redis-tools fio python3
build=$(realpath -m "$build")
raftkv=$build/tools/raftkv/raftkv
server=$build/src/server/raftkv-server
for binary in "$raftkv" "$server"; do
  [[ -x "$binary" ]] || { echo "independent: build it first: $binary" >&2; exit 2; }
done
etcd_load=$build/etcd_load/etcd_load
bench_build_etcd_load "$etcd_load"

# --- Layout: base+1..3 raftkv peers, +5..7 clients, +9..11 HTTP; etcd clients +21..23,
# peers +31..33; Redis +41.
raftkv_endpoints=127.0.0.1:$((base_port + 5)),127.0.0.1:$((base_port + 6))
raftkv_endpoints+=,127.0.0.1:$((base_port + 7))
ETCD_CLIENT_PORT=$((base_port + 21))
ETCD_PEER_PORT=$((base_port + 31))
redis_port=$((base_port + 41))
readonly HEARTBEAT_MS=100 ELECTION_MS=1000 VALUE_SIZE=256 KEY_SIZE=16
readonly READ_KEYS=10000       # Prefilled keys that the read cases pick at random.
readonly WRITE_KEYS=100000000  # redis-benchmark -r: fresh keys, key:<12 digits> (16 bytes).
ulimit -n 20000 2>/dev/null || true  # -c 1000 needs a descriptor per connection.
(( $(ulimit -n) > 2100 )) || { echo "independent: ulimit -n is below 2100" >&2; exit 1; }

# Requests per case at --scale 1: 5 to 10 s each for raftkv on a quiet 2-core machine (the
# Redis cases take half of that or less). A case of a second or two measures its warm-up and
# the machine's noise: the 50-client counts were raised 2-5x once raftkv ran them that fast.
declare -A requests=(
  [set-c256]=300000 [set-c1000]=300000 [get-c256]=500000
  [put-c256]=80000 [put-c1000]=80000 [range-c256]=120000
  [set-c50]=200000 [get-c50]=400000 [set-c50-P16]=1500000 [get-c50-P16]=3000000
)

jsonl=$dir/independent.jsonl
date=$(date -u +%F)
log() { echo "independent: $*" >&2; }
emit() { python3 -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])))' "$1" >>"$jsonl"; }
count() { python3 -c "print(max(1, int(${requests[$1]} * $scale)))"; }

# --- Cleanup: every process this script starts is stopped on any exit. ----------------------
redis_pid=""
stop_redis() {
  [[ -n "$redis_pid" ]] || return 0
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
}
stop_all() {
  [[ ! -f "$dir/raftkv/cluster.conf" ]] || "$raftkv" cluster stop --dir "$dir/raftkv" \
      >/dev/null 2>&1 || true
  etcd_stop "$dir/etcd" 2>/dev/null || true
  stop_redis
}
trap 'status=$?; stop_all; exit $status' EXIT
trap 'exit 130' INT TERM

leader_endpoint() {  # SYSTEM ENDPOINTS: prints the leader's host:port.
  local endpoints
  read -r _ endpoints < <(bench/compare/cluster.py --system "$1" --endpoints "$2" \
      --wait 30) || { log "$1: no healthy cluster within 30 s"; return 1; }
  echo "${endpoints%%,*}"
}

turn_load() {  # SYSTEM start|end: the load average, for the report.
  emit "{\"kind\": \"load\", \"round\": $round, \"system\": \"$1\", \"at\": \"$2\",
         \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
}

measure_disk() {  # AFTER: fio's fdatasync IOPS and latency, "start" or after a system's turn.
  local iops p50 p99
  read -r iops p50 p99 < <(bench_fio "$dir/fio" 3)
  emit "{\"kind\": \"fio\", \"after\": \"$1\", \"iops\": $iops, \"p50_us\": $p50,
         \"p99_us\": $p99}"
}

# The port redis-benchmark loads: raftkv's leader now (leadership can move under load, and a
# follower would forward every request), or the single Redis.
target_port() {  # SYSTEM
  if [[ $1 != raftkv ]]; then echo "$redis_port"; return; fi
  local endpoint
  endpoint=$(leader_endpoint raftkv "$raftkv_endpoints") || return 1
  echo "${endpoint##*:}"
}

# redis-benchmark against SYSTEM: one test, its CSV row as a record.
redis_case() {  # SYSTEM CASE TEST redis-benchmark flags...
  local system=$1 case=$2 test=$3 n csv port
  shift 3
  n=$(count "$case")
  port=$(target_port "$system") || port=""
  log "round $round $system $case: redis-benchmark -p $port -t $test -n $n $*"
  [[ -z "$port" ]] || csv=$(redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" \
      -d "$VALUE_SIZE" -n "$n" --csv "$@" 2>"$dir/logs/$system-$case-round$round.err" |
      tail -1) || true
  # redis-benchmark counts an error reply as a request done, and prints at most one a second:
  # the seconds with errors are what can be told.
  python3 - "$round" "$system" "$case" "$n" "redis-benchmark -t $test -d $VALUE_SIZE $*" \
      "$port" "${csv:-}" "$(grep -c 'Error from server' \
      "$dir/logs/$system-$case-round$round.err" 2>/dev/null || true)" >>"$jsonl" <<'PY'
import csv, json, sys
round_, system, case, n, command, port, line, error_seconds = sys.argv[1:]
record = {"kind": "case", "round": int(round_), "system": system, "case": case,
          "requests": int(n), "command": command, "port": port}
row = next(csv.reader([line]), [])
if len(row) >= 7 and row[1].replace(".", "", 1).isdigit():
    record.update(rps=float(row[1]), p50_ms=float(row[4]), p99_ms=float(row[6]),
                  error_seconds=int(error_seconds or 0))
else:
    record["failed"] = line or "no output"
print(json.dumps(record))
PY
}

etcd_case() {  # CASE etcd_load arguments...: against etcd's leader now.
  local case=$1 n line="" endpoint
  shift
  n=$(count "$case")
  endpoint=$(leader_endpoint etcd "$(etcd_endpoints)") || endpoint=""
  log "round $round etcd $case: etcd_load $* --endpoints $endpoint --total $n"
  [[ -z "$endpoint" ]] || line=$("$etcd_load" "$@" --endpoints "$endpoint" \
      --key-size "$KEY_SIZE" --total "$n" --label "$case" \
      2>"$dir/logs/etcd-$case-round$round.err" | grep '^{' | tail -1) || true
  python3 - "$round" "$case" "$n" "etcd_load $* --key-size $KEY_SIZE" "${endpoint##*:}" \
      "$line" >>"$jsonl" <<'PY'
import json, sys
round_, case, n, command, port, line = sys.argv[1:]
record = {"kind": "case", "round": int(round_), "system": "etcd", "case": case,
          "requests": int(n), "command": command, "port": port}
if line:
    result = json.loads(line)
    record.update(rps=result["throughput"], p50_ms=result["p50_ms"], p99_ms=result["p99_ms"],
                  errors=result["errors"], first_error=result["first_error"])
else:
    record["failed"] = "no output"
print(json.dumps(record))
PY
}

# The READ_KEYS keys that `redis-benchmark -r READ_KEYS` reads (key:<12 digits>), as RESP
# in files of PREFILL_CHUNK commands: a few hundred kilobytes that a loaded leader answers well
# within its request timeout (2 s), where one pipe of all of them may not.
readonly PREFILL_CHUNK=1000
prefill_resp() {
  mkdir -p "$dir/prefill"
  python3 - "$READ_KEYS" "$VALUE_SIZE" "$PREFILL_CHUNK" "$dir/prefill" <<'PY'
import sys
keys, size, chunk, out_dir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
value = "v" * size
for first in range(0, keys, chunk):
    with open(f"{out_dir}/{first // chunk:04d}.resp", "w") as out:
        for i in range(first, min(first + chunk, keys)):
            key = f"key:{i:012d}"
            out.write(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${size}\r\n{value}\r\n")
PY
}

# Writes every chunk, each until redis-cli --pipe reports no error (SET is idempotent), at most
# 5 tries. A prefill that still fails is recorded and the reads run anyway (on fewer keys).
prefill_redis_protocol() {  # SYSTEM
  local chunk try port log_file=$dir/logs/prefill-$1-round$round.log
  for chunk in "$dir"/prefill/*.resp; do
    for try in 1 2 3 4 5; do
      port=$(target_port "$1") &&
        redis-cli -h 127.0.0.1 -p "$port" --pipe <"$chunk" >"$log_file" 2>&1 &&
        grep -q '^errors: 0,' "$log_file" && continue 2
      log "round $round $1: prefill of $(basename "$chunk") failed (try $try): $(tail -1 "$log_file")"
    done
    emit "{\"kind\": \"prefill_failed\", \"round\": $round, \"system\": \"$1\"}"
    return 0
  done
}

raftkv_turn() {
  turn_load raftkv start
  log "round $round raftkv: starting a fresh 3-node cluster"
  rm -rf "$dir/raftkv"
  "$raftkv" cluster start --dir "$dir/raftkv" --nodes 3 --server "$server" --log-level warn \
      --base-peer-port $((base_port + 1)) --base-client-port $((base_port + 5)) \
      --base-http-port $((base_port + 9)) --heartbeat-ms "$HEARTBEAT_MS" \
      --election-ms "$ELECTION_MS" >"$dir/logs/raftkv-start.log" 2>&1 ||
    { cat "$dir/logs/raftkv-start.log" >&2; exit 1; }
  leader_endpoint raftkv "$raftkv_endpoints" >/dev/null || exit 1
  redis_case raftkv set-c256 set -c 256 -r "$WRITE_KEYS"
  redis_case raftkv set-c1000 set -c 1000 -r "$WRITE_KEYS"
  prefill_redis_protocol raftkv
  redis_case raftkv get-c256 get -c 256 -r "$READ_KEYS"
  redis_common_cases raftkv
  "$raftkv" cluster stop --dir "$dir/raftkv" >/dev/null
  turn_load raftkv end
  measure_disk "raftkv-$round"
}

redis_common_cases() {  # SYSTEM: the cases set against Redis with appendfsync always.
  redis_case "$1" set-c50 set -c 50 -r "$READ_KEYS"
  redis_case "$1" get-c50 get -c 50 -r "$READ_KEYS"
  redis_case "$1" set-c50-P16 set -c 50 -r "$READ_KEYS" -P 16
  redis_case "$1" get-c50-P16 get -c 50 -r "$READ_KEYS" -P 16
}

etcd_turn() {
  turn_load etcd start
  log "round $round etcd: starting a fresh 3-node cluster"
  etcd_start "$dir/etcd"
  local endpoint
  endpoint=$(leader_endpoint etcd "$(etcd_endpoints)") ||
    { tail -5 "$dir"/etcd/node*/etcd.log >&2; exit 1; }
  etcd_case put-c256 put --clients 256 --conns 100 --val-size "$VALUE_SIZE" \
      --key-space-size "$WRITE_KEYS"
  etcd_case put-c1000 put --clients 1000 --conns 100 --val-size "$VALUE_SIZE" \
      --key-space-size "$WRITE_KEYS"
  log "round $round etcd: prefilling $READ_KEYS keys"
  endpoint=$(leader_endpoint etcd "$(etcd_endpoints)") || exit 1
  "$etcd_load" put --endpoints "$endpoint" --clients 64 --conns 16 --key-size "$KEY_SIZE" \
      --val-size "$VALUE_SIZE" --key-space-size "$READ_KEYS" --sequential-keys \
      --total "$READ_KEYS" >/dev/null 2>"$dir/logs/etcd-prefill.err"
  etcd_case range-c256 range --clients 256 --conns 100 --consistency l \
      --key-space-size "$READ_KEYS"
  etcd_stop "$dir/etcd"
  turn_load etcd end
  measure_disk "etcd-$round"
}

start_redis() {  # SYSTEM-NAME redis-server flags...: a fresh single Redis on redis_port.
  local name=$1
  shift
  rm -rf "$dir/redis" && mkdir -p "$dir/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir/redis" --save '' \
      --logfile "$dir/logs/$name.log" "$@" &
  redis_pid=$!
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "$name did not start"
  exit 1
}

redis_turn() {
  turn_load redis start
  start_redis redis --appendonly no
  prefill_redis_protocol redis
  redis_case redis get-c256 get -c 256 -r "$READ_KEYS"
  stop_redis
  start_redis redis-aof --appendonly yes --appendfsync always
  # The write goals' client counts too: the physical reference for the etcd ratios.
  redis_case redis-aof set-c256 set -c 256 -r "$WRITE_KEYS"
  redis_case redis-aof set-c1000 set -c 1000 -r "$WRITE_KEYS"
  prefill_redis_protocol redis-aof
  redis_common_cases redis-aof
  stop_redis
  turn_load redis end
  measure_disk "redis-$round"
}

# --- The run. ---------------------------------------------------------------------------------
rm -rf "$dir" && mkdir -p "$dir/logs"
started=$(date +%s)
round=0
emit "{\"kind\": \"machine\", \"cores\": $(nproc), \"commit\": \"$(git rev-parse --short HEAD)\",
       \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\",
       \"etcd\": \"$("$ETCD_BIN" --version | head -1 | awk '{print $NF}')\",
       \"redis\": \"$(redis-server --version | grep -oE 'v=[0-9.]+' | cut -c3-)\",
       \"scale\": $scale, \"rounds\": $rounds, \"read_keys\": $READ_KEYS,
       \"ulimit_n\": $(ulimit -n)}"
prefill_resp
measure_disk start
for round in $(seq "$rounds"); do
  if (( round % 2 == 1 )); then
    raftkv_turn; etcd_turn; redis_turn
  else
    redis_turn; etcd_turn; raftkv_turn
  fi
done
emit "{\"kind\": \"wall\", \"seconds\": $(($(date +%s) - started))}"

mkdir -p bench/results
out=bench/results/$date-independent
cp "$jsonl" "$out.jsonl"
bench/compare/independent_report.py "$out.jsonl" >"$out.md"
cat "$out.md"
log "wrote $out.md and $out.jsonl in $(($(date +%s) - started)) s"
