#!/usr/bin/env bash
# raftkv against Redis itself, with redis-benchmark (issue 16): a 3-node raftkv cluster (every
# node fsyncs each entry before it counts) and one redis-server with appendonly yes and
# appendfsync always (an fsync per write), on loopback, the same disk, in the same run.
#   bench/redis_compare.sh [--rounds N] [--scale F] [--dir D] [--build DIR]
#   --rounds  turns per system (default 2); systems alternate per case, the one going first
#             alternating per round; each round starts both systems afresh
#   --scale   multiplies every request count (default 1: about 10 s per case for Redis on
#             2 cores, longer for raftkv)
#   --dir     scratch directory, emptied first (default /tmp/raftkv-redis-compare)
#   --build   build dir with raftkv and raftkv-server (default build/release)
# Per case: redis-benchmark -t TEST -d 256 -c 50 -n N [-P 16] --csv, to raftkv's leader and to
# Redis. The report takes each system's best round per case (interference on a shared machine
# only slows a run down) and gives the ratio raftkv/Redis. Writes
# bench/results/<date>-redis.md and prints it. Loopback ports 24301-24315.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2
scale=1
dir=/tmp/raftkv-redis-compare
build=build/release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) sed -n '4,4p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done

source bench/lib.sh
bench_install redis-server redis-tools python3
raftkv=$build/tools/raftkv/raftkv
for binary in "$raftkv" "$build/src/server/raftkv-server"; do
  [[ -x "$binary" ]] || { echo "redis_compare: build it first: $binary" >&2; exit 2; }
done
endpoints=127.0.0.1:24305,127.0.0.1:24306,127.0.0.1:24307
redis_port=24315

# Requests per case, from a calibration run of Redis on a 2-core machine: about 10 s each.
declare -A requests=(
  [set]=80000 [get]=370000 [incr]=70000 [mset]=70000 [hset]=70000
  [set-P16]=1000000 [get-P16]=3600000 [incr-P16]=1000000 [mset-P16]=300000
  [hset-P16]=1000000
)

redis_pid=""
stop_all() {
  "$raftkv" cluster stop --dir "$dir/raftkv" >/dev/null 2>&1 || true
  if [[ -n "$redis_pid" ]]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" || true
  fi
  redis_pid=""
}
trap stop_all EXIT

start_all() {  # Fresh data for both; sets leader_port.
  stop_all
  rm -rf "$dir/raftkv" "$dir/redis" && mkdir -p "$dir/redis"
  "$raftkv" cluster start --dir "$dir/raftkv" --nodes 3 --log-level warn \
      --base-peer-port 24301 --base-client-port 24305 --base-http-port 24309 >/dev/null
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir/redis" --appendonly yes \
      --appendfsync always --save '' --logfile "$dir/redis/redis.log" &
  redis_pid=$!
  leader_port=""
  for _ in $(seq 50); do
    leader=$("$raftkv" -e "$endpoints" leader 2>/dev/null | grep -oE '127\.0\.0\.1:[0-9]+' |
             head -1 || true)
    [[ -n "$leader" ]] && redis-cli -p "$redis_port" ping >/dev/null 2>&1 &&
        { leader_port=${leader##*:}; break; }
    sleep 0.2
  done
  [[ -n "$leader_port" ]] || { echo "redis_compare: no leader or no redis" >&2; exit 1; }
}

raw="$dir/raw.tsv"  # round, system, case, n, rps, p50 ms
run_case() {  # round system port test pipeline
  local n=${requests[$4${5:+-P$5}]}
  n=$(python3 -c "print(int($n * $scale))")
  local csv
  csv=$(redis-benchmark -p "$3" -t "$4" -d 256 -c 50 -n "$n" ${5:+-P "$5"} --csv 2>/dev/null |
        tail -1)
  python3 - "$1" "$2" "$4${5:+ -P $5}" "$n" "$csv" >>"$raw" <<'PY'
import sys
round_, system, case, n, csv = sys.argv[1:]
fields = [f.strip('"') for f in csv.split(",")]
print("\t".join([round_, system, case, n, fields[1], fields[4]]))
PY
}

mkdir -p "$dir" && : >"$raw"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
  start_all
  for pipeline in "" 16; do
    for test in set get incr mset hset; do
      if (( round % 2 == 1 )); then
        run_case "$round" raftkv "$leader_port" "$test" "$pipeline"
        run_case "$round" redis "$redis_port" "$test" "$pipeline"
      else
        run_case "$round" redis "$redis_port" "$test" "$pipeline"
        run_case "$round" raftkv "$leader_port" "$test" "$pipeline"
      fi
    done
  done
done
stop_all

results="bench/results/$(date -u +%Y-%m-%d)-redis.md"
mkdir -p bench/results
python3 - "$raw" "$rounds" "$(nproc)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(git rev-parse --short HEAD)" "$(redis-server --version | grep -oE 'v=[0-9.]+')" \
    >"$results" <<'PY'
import sys, time
raw, rounds, cores, load_start, load_end, commit, version = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(raw)]
cases = list(dict.fromkeys(r[2] for r in rows))
def runs(system, case):
    return [(float(r[4]), float(r[5]), int(r[3])) for r in rows if r[1] == system and r[2] == case]
print(f"# raftkv vs Redis ({version[2:]}, appendfsync always), "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
print(f"Commit {commit}. {cores} cores, load {load_start} at the start, {load_end} at the end. "
      "3 raftkv nodes and one redis-server on loopback, same disk. "
      "`redis-benchmark -t TEST -d 256 -c 50 -n N [-P 16]`, to raftkv's leader and to Redis, "
      f"alternating; best of {rounds} rounds per system (requests/s), every round in brackets.\n")
print("| test | N | raftkv req/s | Redis req/s | raftkv/Redis | raftkv p50 ms | Redis p50 ms |")
print("|---|---|---|---|---|---|---|")
for case in cases:
    k, r = runs("raftkv", case), runs("redis", case)
    bk, br = max(k), max(r)
    every = lambda xs: ", ".join(f"{x[0]:,.0f}" for x in xs)
    print(f"| {case} | {bk[2]:,} | {bk[0]:,.0f} ({every(k)}) | {br[0]:,.0f} ({every(r)}) "
          f"| {bk[0] / br[0]:.2f} | {bk[1]:.2f} | {br[1]:.2f} |")
PY
cat "$results"
