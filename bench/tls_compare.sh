#!/usr/bin/env bash
# The machine's own TLS floor (issue 17): what TLS costs Redis itself, against what it costs
# raftkv, driven by the same redis-benchmark in the same run, on the same certificates.
#   bench/tls_compare.sh [--rounds N] [--seconds S] [--clients "1 64 256"] [--dir D]
#                        [--build DIR] [--base-port P]
#   --rounds     measured turns per case (default 3); within a round the systems take turns,
#                plaintext and TLS back to back, the order reversed every other round
#   --seconds    target length of each run (default 10): each case's request count comes from
#                a calibration run of it before round 1 (which also fills the keyspace)
#   --clients    the -c values (default "1 64 256")
#   --dir        scratch directory, emptied first (default /tmp/raftkv-tls-compare)
#   --build      build dir with raftkv and raftkv-server (default build/release)
#   --base-port  first of the 80 loopback ports used (default 26200)
# Systems, each over plaintext and over TLS (TLS 1.3, client certificate required):
#   raftkv        3 nodes, every entry fsynced; plaintext is a plaintext cluster, TLS a
#                 `raftkv cluster start --tls` cluster (TLS on client and peer links)
#   redis         one redis-server, no persistence (the CPU floor: nothing but the protocol)
#   redis-always  one redis-server, appendonly yes + appendfsync always (an fsync per write)
# The Redis servers use the TLS cluster's throwaway CA and node 1's certificate; each serves its
# plaintext --port and its --tls-port at once. Per run: `redis-benchmark [--tls ...] -t set
# -d 256 -c C -n N -r 100000 --csv`, the servers' CPU seconds over it (utime + stime from /proc)
# and redis-benchmark's own (/usr/bin/time). Writes bench/results/<date>-tls-floor.md (and
# the raw rows next to it, .tsv) and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=10
clients="1 64 256"
dir=/tmp/raftkv-tls-compare
build=build/release
base=26200
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    *) sed -n '3,4p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done

source bench/lib.sh
bench_install redis-server redis-tools openssl python3 time
raftkv=$build/tools/raftkv/raftkv
for binary in "$raftkv" "$build/src/server/raftkv-server"; do
  [[ -x "$binary" ]] || { echo "tls_compare: build it first: $binary" >&2; exit 2; }
done

# Port layout: plaintext cluster at base+1.., TLS cluster at base+31.. (its TLS client ports
# are the client ports + 10, as `raftkv cluster` lays them out), Redis at base+71..74.
plain_dir=$dir/raftkv-plain  # The clusters of bench_tls_pair_start.
tls_dir=$dir/raftkv-tls
certs=$tls_dir/tls
redis_port=$((base + 71)) redis_tls_port=$((base + 72))
always_port=$((base + 73)) always_tls_port=$((base + 74))

redis_pids=()
stop_all() {
  bench_tls_pair_stop "$raftkv" "$dir"
  local pid
  for pid in "${redis_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  redis_pids=()
}
trap stop_all EXIT

start_redis() {  # NAME PORT TLS_PORT [extra redis-server flags...]: in the background.
  local name=$1 port=$2 tls_port=$3
  shift 3
  mkdir -p "$dir/$name"
  redis-server --port "$port" --tls-port "$tls_port" --bind 127.0.0.1 --dir "$dir/$name" \
      --tls-cert-file "$certs/raftkv-node-1.crt" --tls-key-file "$certs/raftkv-node-1.key" \
      --tls-ca-cert-file "$certs/ca.crt" --save '' --logfile "$dir/$name/redis.log" "$@" &
  redis_pids+=($!)
}

leader_port() {  # CLUSTER_BASE_CLIENT_PORT: the leader's plaintext client port.
  local endpoints="127.0.0.1:$1,127.0.0.1:$(($1 + 1)),127.0.0.1:$(($1 + 2))" leader
  for _ in $(seq 100); do
    leader=$("$raftkv" -e "$endpoints" leader 2>/dev/null | grep -oE '127\.0\.0\.1:[0-9]+' |
             head -1 || true)
    [[ -n "$leader" ]] && { echo "${leader##*:}"; return 0; }
    sleep 0.2
  done
  echo "tls_compare: no leader at $endpoints" >&2
  return 1
}

start_all() {
  stop_all
  rm -rf "$dir" && mkdir -p "$dir"
  bench_tls_pair_start "$raftkv" "$dir" "$base"
  start_redis redis "$redis_port" "$redis_tls_port" --appendonly no
  start_redis redis-always "$always_port" "$always_tls_port" --appendonly yes \
      --appendfsync always
  plain_leader=$(leader_port $((base + 11)))
  tls_leader=$(($(leader_port $((base + 41))) + 10))
  for port in "$redis_port" "$always_port"; do
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}

server_pids() {  # SYSTEM: the pids whose CPU counts for it.
  case "$1" in
    raftkv-plain) cat "$plain_dir"/node*/server.pid ;;
    raftkv-tls) cat "$tls_dir"/node*/server.pid ;;
    redis) echo "${redis_pids[0]}" ;;
    redis-always) echo "${redis_pids[1]}" ;;
  esac
}

cpu_seconds() {  # PIDS...: their utime + stime summed, in seconds.
  local pid total=0
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  python3 -c "print($total / $(getconf CLK_TCK))"
}

# One case: "SYSTEM LINK" with SYSTEM raftkv|redis|redis-always and LINK plain|tls.
case_args() {  # SYSTEM LINK: redis-benchmark's connection flags.
  local port
  case "$1-$2" in
    raftkv-plain) port=$plain_leader ;;
    raftkv-tls) port=$tls_leader ;;
    redis-plain) port=$redis_port ;;
    redis-tls) port=$redis_tls_port ;;
    redis-always-plain) port=$always_port ;;
    redis-always-tls) port=$always_tls_port ;;
  esac
  echo "-p $port"
  [[ $2 == plain ]] || echo "${bench_tls_flags[*]}"
}

raw="$dir/raw.tsv"  # round system link clients n rps p50 p99 server_cpu bench_cpu load
declare -A requests=()
run_case() {  # ROUND SYSTEM LINK CLIENTS [N]: one run; a row in $raw unless ROUND is 0.
  local round=$1 system=$2 link=$3 c=$4 n=${5:-${requests[$2-$3-$4]}}
  local -a args
  read -ra args <<<"$(case_args "$system" "$link" | tr '\n' ' ')"
  local pid_system=$system
  [[ $system == raftkv ]] && pid_system=raftkv-$link
  local -a pids
  mapfile -t pids < <(server_pids "$pid_system")
  local load cpu_before cpu_after csv
  load=$(cut -d' ' -f1 /proc/loadavg)
  cpu_before=$(cpu_seconds "${pids[@]}")
  csv=$(/usr/bin/time -f '%U %S' -o "$dir/time.txt" redis-benchmark "${args[@]}" -t set -d 256 \
        -c "$c" -n "$n" -r 100000 --csv 2>/dev/null | tail -1)
  cpu_after=$(cpu_seconds "${pids[@]}")
  python3 - "$round" "$system" "$link" "$c" "$n" "$csv" "$cpu_before" "$cpu_after" \
      "$(cat "$dir/time.txt")" "$load" <<'PY'
import sys
round_, system, link, c, n, csv, before, after, bench_cpu, load = sys.argv[1:]
fields = [f.strip('"') for f in csv.split(",")]
user, system_time = (float(x) for x in bench_cpu.split())
print("\t".join([round_, system, link, c, n, fields[1], fields[4], fields[6],
                 "%.2f" % (float(after) - float(before)), "%.2f" % (user + system_time), load]))
PY
}

calibrate() {  # SYSTEM LINK CLIENTS: sets the case's request count to about $seconds s.
  local c=$3 n rps
  n=$((c == 1 ? 1000 : 20000))
  rps=$(run_case 0 "$1" "$2" "$c" "$n" | cut -f6)
  requests[$1-$2-$3]=$(python3 -c "print(max(1000, int($rps * $seconds)))")
}

systems=(raftkv redis redis-always)
start_all
: >"$raw"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $clients; do
  for system in "${systems[@]}"; do
    for link in plain tls; do calibrate "$system" "$link" "$c"; done
  done
done
for round in $(seq "$rounds"); do
  for c in $clients; do
    order=("${systems[@]}")
    links=(plain tls)
    if (( round % 2 == 0 )); then
      order=("${systems[2]}" "${systems[1]}" "${systems[0]}")
      links=(tls plain)
    fi
    for system in "${order[@]}"; do
      for link in "${links[@]}"; do run_case "$round" "$system" "$link" "$c" >>"$raw"; done
    done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
stop_all

results="bench/results/$(date -u +%Y-%m-%d)-tls-floor.md"
mkdir -p bench/results
cp "$raw" "${results%.md}.tsv"
python3 - "$raw" "$rounds" "$(nproc)" "$load_start" "$load_end" \
    "$(git rev-parse --short HEAD)" "$(redis-server --version | grep -oE 'v=[0-9.]+')" \
    >"$results" <<'PY'
import statistics, sys, time
raw, rounds, cores, load_start, load_end, commit, version = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(raw)]
def runs(system, link, c):
    return [r for r in rows if r[1] == system and r[2] == link and r[3] == c]
print(f"# TLS cost: raftkv against Redis {version[2:]}, "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
print(f"Commit {commit}. {cores} cores, load {load_start} at the start, {load_end} at the end. "
      "`redis-benchmark [--tls] -t set -d 256 -c C -r 100000`, each system over plaintext and "
      f"TLS back to back, {rounds} rounds. Medians of the rounds; per round in brackets. "
      "CPU: the servers' (all three nodes for raftkv) and redis-benchmark's, in microseconds "
      "per request.\n")
print("| clients | system | plain req/s | TLS req/s | TLS/plain (rounds) | p50 ms plain / TLS "
      "| server CPU us/req plain / TLS | bench CPU us/req plain / TLS |")
print("|---|---|---|---|---|---|---|---|")
for c in dict.fromkeys(r[3] for r in rows):
    for system in dict.fromkeys(r[1] for r in rows):
        plain, tls = runs(system, "plain", c), runs(system, "tls", c)
        if not plain or not tls:
            continue
        ratios = [float(t[5]) / float(p[5]) for p, t in zip(plain, tls)]
        med = lambda rs, i: statistics.median(float(r[i]) for r in rs)
        per_req = lambda rs, i: statistics.median(float(r[i]) * 1e6 / int(r[4]) for r in rs)
        print(f"| {c} | {system} | {med(plain, 5):,.0f} | {med(tls, 5):,.0f} "
              f"| {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)}) "
              f"| {med(plain, 6):.2f} / {med(tls, 6):.2f} "
              f"| {per_req(plain, 8):.0f} / {per_req(tls, 8):.0f} "
              f"| {per_req(plain, 9):.0f} / {per_req(tls, 9):.0f} |")
PY
cat "$results"
