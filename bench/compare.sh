#!/usr/bin/env bash
# raftkv against etcd on this machine, one system at a time, same load generator and flags
# (issue 6 §2). On a fresh Debian 12 machine:
#   bench/compare.sh [--seconds S] [--rounds N] [--failovers N] [--quick] [--skip-build]
#                    [--build DIR] [--bench PATH]
# installs what is missing, builds build/bench (raftkv-server, raftkv, raftkv-bench with its
# etcd target), measures the disk with fio, then runs every workload against a 3-node raftkv
# cluster and afterwards against a 3-node etcd cluster, all on loopback with their data under
# build/bench/run/, and repeats that for each round (fresh clusters every time). Writes
# bench/results/<date>-compare.{md,jsonl,png}; see bench/README.md. fio runs at the start and
# after each system's turn, as a shared machine's disk drifts.
#   --seconds S     measured seconds per case (default 8; each case also has 1 s of warmup)
#   --rounds N      turns per system, alternating raftkv and etcd (default 2); the report
#                   takes each system's best round per case and shows every round
#   --failovers N   kill -9 the leader N times per system, in the last round (default 5)
#   --quick         2 s per case, 1 round, 1 failover: checks the machinery, figures mean little
#   --skip-build    use the binaries already in the build dir
#   --build DIR     build dir (default build/bench)
#   --bench PATH    raftkv-bench binary (default DIR/tools/raftkv-bench/raftkv-bench)
# Exits 1 if a system fails to start or a case produces no result (the report is still
# written, naming what failed); 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=8
warmup=1
rounds=2
failovers=5
skip_build=0
build=build/bench
bench_bin=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --failovers) failovers="$2"; shift 2 ;;
    --quick) seconds=2; rounds=1; failovers=1; shift ;;
    --skip-build) skip_build=1; shift ;;
    --build) build="$2"; shift 2 ;;
    --bench) bench_bin="$2"; shift 2 ;;
    *) sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare: --rounds wants a positive integer" >&2; exit 2; }
round=1  # The round being measured; every result record carries it.
build=$(realpath -m "$build")
bench_bin=${bench_bin:-$build/tools/raftkv-bench/raftkv-bench}

source bench/lib.sh
source bench/compare/etcd.sh

# --- Fixed layout: loopback ports 24001-24043 (tests use 21000-21500). -----------------------
readonly RAFTKV_PEER_PORT=24001 RAFTKV_CLIENT_PORT=24011 RAFTKV_HTTP_PORT=24021
ETCD_CLIENT_PORT=24031
ETCD_PEER_PORT=24041
readonly HEARTBEAT_MS=100 ELECTION_MS=1000  # etcd's defaults; raftkv is given the same.
readonly VALUE_SIZE=256 KEY_SIZE=16 READ_KEYS=10000
readonly WRITE_CLIENTS=(1 16 64 256 1000) READ_CLIENTS=(1 256)
readonly CONNECTIONS_MAX=64  # Beyond this, clients share (pipeline over) connections.

raftkv=$build/tools/raftkv/raftkv
server=$build/src/server/raftkv-server
floor_bin=$build/bench/replication_floor
run=$build/run
jsonl=$run/compare.jsonl  # Copied to bench/results/ once the run is complete.
date=$(date -u +%F)
results=bench/results
raftkv_endpoints=""
for port in $(seq "$RAFTKV_CLIENT_PORT" $((RAFTKV_CLIENT_PORT + 2))); do
  raftkv_endpoints+="${raftkv_endpoints:+,}127.0.0.1:$port"
done
started=$(date +%s)

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 1; }

# --- Cleanup: every process this script starts is stopped on any exit. ----------------------
background_pid=""
stop_all() {
  [[ -z "$background_pid" ]] || kill -KILL "$background_pid" 2>/dev/null || true
  if [[ -f "$run/raftkv/cluster.conf" && -x "$raftkv" ]]; then
    "$raftkv" cluster stop --dir "$run/raftkv" >/dev/null 2>&1 || true
  fi
  etcd_stop "$run/etcd" 2>/dev/null || true
}
trap 'status=$?; stop_all; exit $status' EXIT
trap 'exit 130' INT TERM

# --- 1. Packages. ----------------------------------------------------------------------------
scripts/setup.sh
bench_install etcd-server golang-etcd-server-dev libgrpc++-dev protobuf-compiler-grpc fio \
    redis-tools gnuplot-nox python3 curl

# --- 2. Build. -------------------------------------------------------------------------------
# RelWithDebInfo (-O2), as scripts/build.sh's release flavour: GCC 12 at -O3 (Release) stops
# on a false -Wrestrict in std::string under -Werror.
if [[ $skip_build -eq 0 ]]; then
  log "building $build"
  if [[ ! -f "$build/build.ninja" ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAFTKV_ETCD_BENCH=ON \
        >/dev/null
  fi
  ninja -C "$build" raftkv-server raftkv raftkv-bench replication_floor \
      >"$build/compare-build.log" 2>&1 ||
    { tail -30 "$build/compare-build.log" >&2; die "build failed (log: $build/compare-build.log)"; }
fi
for binary in "$raftkv" "$server" "$bench_bin" "$floor_bin" "$ETCD_BIN"; do
  [[ -x "$binary" ]] || die "missing $binary"
done

# --- Results file helpers. -------------------------------------------------------------------
stop_all  # Clusters that a killed earlier run left behind (found by their pid files).
rm -rf "$run"
mkdir -p "$run/logs" "$results"
: >"$jsonl"
failures=0

# emit KEY=STRING... KEY:=JSON...: appends one JSON object to the .jsonl file.
emit() {
  python3 - "$@" >>"$jsonl" <<'PY'
import json, sys
record = {}
for arg in sys.argv[1:]:
    if ":=" in arg:
        key, value = arg.split(":=", 1)
        record[key] = json.loads(value)
    else:
        key, value = arg.split("=", 1)
        record[key] = value
print(json.dumps(record))
PY
}

machine_facts() {  # PHASE
  emit kind=machine "phase=$1" "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
      "nproc:=$(nproc)" "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" "kernel=$(uname -sr)" \
      "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
      "mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
      "disk_free=$(df -h --output=avail,size "$run" | tail -1 | awk '{print $1 " free of " $2}')" \
      "filesystem=$(df --output=source,fstype "$run" | tail -1 | awk '{print $1 " (" $2 ")"}')" \
      "commit=$(git rev-parse --short HEAD)" \
      "dirty=$(git status --porcelain --untracked-files=no | wc -l | tr -d ' ') files" \
      "etcd_version=$("$ETCD_BIN" --version | head -1 | awk '{print $3}')"
}

measure_disk() {  # PHASE
  local iops p50 p99
  log "fio: 4 KiB write + fdatasync, 5 s ($1)"
  read -r iops p50 p99 < <(bench_fio "$run/fio" 5)
  emit kind=fio "phase=$1" "iops:=$iops" "p50_us:=$p50" "p99_us:=$p99"
  log "fio: $iops IOPS, fdatasync p50 $p50 us, p99 $p99 us"
  # The same disk under one replicated write at a time with no Raft in it (4 processes on
  # loopback, an fdatasync on each node): the floor under any 1-client figure here.
  local line
  line=$("$floor_bin" --dir "$run/floor" --seconds 5 2>"$run/logs/floor-$1.err") ||
    { case_failed floor "$1" "replication_floor failed"; return; }
  emit kind=floor "phase=$1" "result:=$line"
  log "replication floor: $line"
}

# leader SYSTEM [--any]: prints "<leader position> <endpoints, leader first>" once healthy.
leader() {
  local system=$1 endpoints
  shift
  if [[ $system == raftkv ]]; then endpoints=$raftkv_endpoints; else endpoints=$(etcd_endpoints); fi
  bench/compare/cluster.py --system "$system" --endpoints "$endpoints" --wait 30 "$@"
}

# bench_case SYSTEM WORKLOAD LABEL [raftkv-bench flags...]: one run against the current
# leader; its JSON line goes to the .jsonl file with kind, system and workload added.
bench_case() {
  local system=$1 workload=$2 label=$3 position endpoints line
  shift 3
  if ! read -r position endpoints < <(leader "$system"); then
    case_failed "$system" "$label" "no leader"
    return
  fi
  line=$("$bench_bin" --target "$system" --endpoints "$endpoints" --label "$label" --json \
             --quiet --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --warmup "$warmup" "$@" \
             2>"$(err_log "$system" "$label")" | grep '^{' | tail -1) || true
  record_case "$system" "$workload" "$label" "$line"
}

err_log() { echo "$run/logs/$1-$2-round$round.err"; }  # SYSTEM LABEL

record_case() {  # SYSTEM WORKLOAD LABEL JSON [KEY=VALUE...]
  local system=$1 workload=$2 label=$3 line=$4
  shift 4
  if [[ -z "$line" ]]; then
    case_failed "$system" "$label" \
        "no JSON from raftkv-bench: $(tail -3 "$(err_log "$system" "$label")" | tr '\n' ' ')"
    return
  fi
  python3 - "$system" "$workload" "$line" "round=$round" "$@" >>"$jsonl" <<'PY'
import json, sys
system, workload, line = sys.argv[1:4]
record = {"kind": "bench", "system": system, "workload": workload}
record.update(json.loads(line))
for arg in sys.argv[4:]:
    key, value = arg.split("=", 1)
    record[key] = json.loads(value)
print(json.dumps(record))
PY
  python3 - "$system" "$line" >&2 <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print("compare: %s %s: %.0f ops/s, p50 %.2f ms, p99 %.2f ms, max gap %.0f ms, errors %d, "
      "retries %d" % (sys.argv[1], r["label"], r["throughput"], r["p50_ms"], r["p99_ms"],
                      r["max_ack_gap_ms"], r["errors"], r["retries"]))
PY
}

case_failed() {  # SYSTEM LABEL REASON
  failures=$((failures + 1))
  log "$1 $2 (round $round) FAILED: $3"
  emit kind=failed "system=$1" "label=$2" "round:=$round" "reason=$3"
}

connections_for() { echo $(($1 < CONNECTIONS_MAX ? $1 : CONNECTIONS_MAX)); }

run_workloads() {  # SYSTEM: the throughput and read cases.
  local system=$1 clients
  for clients in "${WRITE_CLIENTS[@]}"; do
    bench_case "$system" writes "write-c$clients" --clients "$clients" \
        --connections "$(connections_for "$clients")" --duration "$seconds" --keyspace 0 \
        --read-ratio 0
  done
  # Keys [0, READ_KEYS) are written once, by 256 clients, and every read case then reads
  # them (raftkv-bench names keys by index, so the runs agree on them).
  bench_case "$system" prefill prefill --clients 256 --connections "$(connections_for 256)" \
      --prefill "$READ_KEYS" --keyspace "$READ_KEYS" --read-ratio 1 --ops 1
  local mode
  for mode in linearizable serializable; do
    for clients in "${READ_CLIENTS[@]}"; do
      bench_case "$system" "$mode" "read-$mode-c$clients" --clients "$clients" \
          --connections "$(connections_for "$clients")" --duration "$seconds" \
          --keyspace "$READ_KEYS" --read-ratio 1 --read-mode "$mode"
    done
  done
}

node_pid() {  # SYSTEM ID
  if [[ $1 == raftkv ]]; then
    cat "$run/raftkv/node$2/server.pid" 2>/dev/null || true
  else
    etcd_node_pid "$run/etcd" "$2"
  fi
}

sample_rss() {  # SYSTEM
  local id hwm rss
  for id in 1 2 3; do
    read -r hwm rss < <(bench_rss_kb "$(node_pid "$1" "$id")") || continue
    emit kind=rss "system=$1" "node:=$id" "hwm_kb:=$hwm" "rss_kb:=$rss"
  done
}

kill_node() {  # SYSTEM ID
  if [[ $1 == raftkv ]]; then
    "$raftkv" node kill "$2" --dir "$run/raftkv" --signal 9 >/dev/null
  else
    etcd_kill_node "$run/etcd" "$2" KILL
  fi
}

restart_node() {  # SYSTEM ID
  if [[ $1 == raftkv ]]; then
    "$raftkv" node restart "$2" --dir "$run/raftkv" >/dev/null
  else
    etcd_start_node "$run/etcd" "$2"
  fi
}

# Light write load; ~4 s in, kill -9 the leader; the longest gap between acknowledged writes
# (max_ack_gap_ms) is the time to the first write acknowledged after the kill. Then the killed
# node restarts and the cluster must be whole again (3 up, one leader) before the next round.
run_failovers() {  # SYSTEM
  local system=$1 rep position endpoints line label killed
  for rep in $(seq "$failovers"); do
    label=failover-$rep
    read -r position endpoints < <(leader "$system") ||
      { case_failed "$system" "$label" "cluster not healthy before the kill"; return; }
    "$bench_bin" --target "$system" --endpoints "$endpoints" --label "$label" --json --quiet \
        --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --warmup "$warmup" --clients 4 \
        --connections 4 --rate 200 --duration 12 --keyspace 0 --read-ratio 0 \
        >"$run/$system-$label.json" 2>"$(err_log "$system" "$label")" &
    background_pid=$!
    sleep 4
    # The leader now, which is the one the load started on unless leadership moved since.
    read -r killed _ < <(leader "$system") || killed=$position
    kill_node "$system" "$killed"
    log "$system failover $rep: killed node $killed (the leader) with SIGKILL"
    wait "$background_pid" || true
    background_pid=""
    line=$(grep '^{' "$run/$system-$label.json" | tail -1 || true)
    record_case "$system" failover "$label" "$line" "killed_node=$killed" \
        "load_started_on_node=$position"
    restart_node "$system" "$killed"
    leader "$system" >/dev/null || die "$system did not recover after failover $rep"
  done
}

redis_benchmark() {  # LABEL REQUESTS redis-benchmark flags...: SET and GET figures from its --csv.
  local label=$1 requests=$2 position endpoints
  shift 2
  if ! read -r position endpoints < <(leader raftkv); then
    case_failed raftkv "$label" "no leader"
    return
  fi
  log "redis-benchmark $label"
  local first=${endpoints%%,*}
  redis-benchmark -h "${first%:*}" -p "${first##*:}" -t set,get -d "$VALUE_SIZE" -c 50 \
      -n "$requests" --csv "$@" >"$run/redis-$label-round$round.csv" \
      2>"$(err_log redis "$label")" || true
  python3 - "$label" "$requests" "$round" "$run/redis-$label-round$round.csv" >>"$jsonl" <<'PY'
import csv, json, sys
label, requests, round_, path = sys.argv[1:]
for row in csv.DictReader(open(path)):
    print(json.dumps({"kind": "redis_benchmark", "system": "raftkv", "label": label,
                      "round": int(round_), "requests": int(requests), "test": row["test"],
                      "rps": float(row["rps"]),
                      "p50_ms": float(row["p50_latency_ms"]),
                      "p99_ms": float(row["p99_latency_ms"])}))
PY
}

start_raftkv() {  # From empty data directories, as etcd_start does.
  log "starting 3-node raftkv cluster (heartbeat $HEARTBEAT_MS ms, election $ELECTION_MS ms)"
  rm -rf "$run/raftkv"
  "$raftkv" cluster start --dir "$run/raftkv" --nodes 3 --server "$server" --log-level warn \
      --base-peer-port "$RAFTKV_PEER_PORT" --base-client-port "$RAFTKV_CLIENT_PORT" \
      --base-http-port "$RAFTKV_HTTP_PORT" --heartbeat-ms "$HEARTBEAT_MS" \
      --election-ms "$ELECTION_MS" >"$run/logs/raftkv-start.log" 2>&1 ||
    { cat "$run/logs/raftkv-start.log" >&2; die "raftkv failed to start"; }
  leader raftkv >/dev/null || die "raftkv: no healthy cluster within 30 s"
}

start_etcd() {
  log "starting 3-node etcd cluster ($("$ETCD_BIN" --version | head -1))"
  etcd_start "$run/etcd"
  leader etcd >/dev/null ||
    { tail -5 "$run"/etcd/node*/etcd.log >&2; die "etcd failed to start (logs: $run/etcd)"; }
}

# --- 3-6. The run. ---------------------------------------------------------------------------
machine_facts start
emit kind=config "seconds:=$seconds" "warmup:=$warmup" "failovers:=$failovers" \
    "election_ms:=$ELECTION_MS" "heartbeat_ms:=$HEARTBEAT_MS" "value_size:=$VALUE_SIZE" \
    "key_size:=$KEY_SIZE" "read_keys:=$READ_KEYS" "connections_max:=$CONNECTIONS_MAX" \
    "rounds:=$rounds"
measure_disk start

# Rounds alternate the systems, so a slow spell of this shared machine lands on one round of
# one system, and the report can set it aside (best round per case) while showing it.
for round in $(seq "$rounds"); do
  log "round $round of $rounds"
  start_raftkv
  run_workloads raftkv
  redis_benchmark c50 100000
  # Pipelined, 100,000 requests pass in about a second: too short a sample here.
  redis_benchmark c50-P16 500000 -P 16
  if [[ $round -eq $rounds ]]; then
    sample_rss raftkv  # Before the failovers, which restart nodes (and so reset their peaks).
    run_failovers raftkv
  fi
  "$raftkv" cluster stop --dir "$run/raftkv" >/dev/null
  measure_disk "raftkv-$round"  # The disk drifts: each system's turn is followed by fio.

  start_etcd
  run_workloads etcd
  if [[ $round -eq $rounds ]]; then
    sample_rss etcd
    run_failovers etcd
  fi
  etcd_stop "$run/etcd"
  measure_disk "etcd-$round"
done

machine_facts end
emit kind=wall "seconds:=$(($(date +%s) - started))"

# --- 7-8. Report and plot. -------------------------------------------------------------------
out=$results/$date-compare
cp "$jsonl" "$out.jsonl"
bench/compare/report.py "$out.jsonl" >"$out.md"
bench/compare/plot.sh "$out.jsonl" "$out.png" "$run/plot"
cat "$out.md"
log "wrote $out.md, $out.jsonl and $out.png in $(($(date +%s) - started)) s"
[[ $failures -eq 0 ]] || die "$failures case(s) failed; see the report"
