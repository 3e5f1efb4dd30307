#!/usr/bin/env bash
# How long a node takes to restart, and where the time goes (issue 20's restart goal):
#   - for each --server binary (repeatable; default build/release's), a fresh local 3-node
#     cluster takes `redis-benchmark -t set -d 256 -r KEYS -n WRITES -c 64 -P 16` (writes/s,
#     p99, the snapshots its nodes wrote); then, with --top-up F (default 0.9; 0: none), as
#     many more writes as bring node 1's log since its last snapshot to about F of what
#     triggers its next one, so that the restart replays close to the most the snapshot policy
#     allows, wherever the load happened to end in the policy's cycle; then the cluster stops
#     and node 1's data dir is kept;
#   - then, --rounds times, the binaries in turn each restart node 1 alone from a fresh copy of
#     the data dir their own cluster wrote, page cache dropped first (when allowed): seconds
#     until the node logs "serving clients", split by its log's time stamps into the WAL scan,
#     the snapshot load and the replay of the log after the snapshot, beside the seconds it
#     takes to read the same snapshot and WAL files with cat (page cache dropped too).
#   bench/restart.sh [--keys N] [--writes N] [--top-up F] [--rounds N] [--server BIN]...
#                    [--base-port P]
# Alone, the node replays what it stored as committed and then serves (and campaigns in
# vain), which is what a restart in a live cluster does before it hears from the leader.
# Loopback ports P+1..P+23 (default 24800); everything under build/restart; report in
# build/restart/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

keys=2000000
writes=4000000
top_up=0.9
rounds=3
base=24800
servers=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    --writes) writes="$2"; shift 2 ;;
    --top-up) top_up="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --server) servers+=("$2"); shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    *) sed -n '15,16p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
[[ ${#servers[@]} -gt 0 ]] || servers=(build/release/src/server/raftkv-server)
bench_install redis-tools curl
raftkv=build/release/tools/raftkv/raftkv
work=$PWD/build/restart
report=$work/report.md
peers="1=127.0.0.1:$((base + 1)),2=127.0.0.1:$((base + 2)),3=127.0.0.1:$((base + 3))"
endpoints=127.0.0.1:$((base + 11)),127.0.0.1:$((base + 12)),127.0.0.1:$((base + 13))
restart_pid=""
stop_all() {
  local dir
  for dir in "$work"/*/cluster; do
    [[ -d "$dir" ]] && { "$raftkv" cluster stop --dir "$dir" >/dev/null 2>&1 || true; }
  done
  if [[ -n "$restart_pid" ]]; then kill "$restart_pid" 2>/dev/null || true; fi
}
trap stop_all EXIT
rm -rf "$work" && mkdir -p "$work"
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# Seconds since midnight of a log line's "HH:MM:SS.mmm" stamp.
stamp_s() { awk -F'[:. ]' '{printf "%.3f", $1 * 3600 + $2 * 60 + $3 + $4 / 1000; exit}'; }

# top_up DIR PORT: the writes that bring node 1 near its next snapshot (see the top). The
# policy's threshold is in node 1's log ("snapshot at index I ... the next after X MiB of
# log"); the bytes it counts per entry are the previous threshold over the entries it took.
top_up() {
  local applied
  applied=$(curl -s "http://127.0.0.1:$((base + 21))/status" |
              python3 -c "import json, sys; print(json.load(sys.stdin)['applied'])")
  python3 - "$1/cluster/node1/server.log" "$applied" "$top_up" <<'PY'
import re, sys
log, applied, fraction = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pattern = r"snapshot at index (\d+) .* the next after (\d+) MiB of log"
found = re.findall(pattern, open(log).read())
if len(found) < 2:
    sys.exit("node 1 wrote fewer than two snapshots: no threshold to aim at")
(previous, _), (last, threshold_mib) = [(int(i), int(m)) for i, m in found[-2:]]
bytes_per_entry = int(found[-2][1]) * 2**20 / (last - previous)
target = last + int(fraction * int(threshold_mib) * 2**20 / bytes_per_entry)
print(max(0, target - applied))
PY
}

# load NAME SERVER: fills a cluster under $work/NAME and keeps node 1's data in $work/NAME/data.
load() {
  local name=$1 server=$2 dir=$work/$1 port csv
  mkdir -p "$dir"
  # `raftkv cluster stop` signals only processes whose command line names raftkv-server.
  cp "$server" "$dir/raftkv-server"
  "$raftkv" cluster start --dir "$dir/cluster" --nodes 3 --server "$dir/raftkv-server" \
      --log-level info --base-peer-port $((base + 1)) --base-client-port $((base + 11)) \
      --base-http-port $((base + 21)) >/dev/null
  port=$("$raftkv" -e "$endpoints" leader | grep -o 'at 127.0.0.1:[0-9]*' | cut -d: -f2)
  local load_avg started
  load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
  started=$(date +%s.%N)
  csv=$(redis-benchmark -p "$port" -t set -d 256 -r "$keys" -n "$writes" -c 64 -P 16 --csv \
          2>/dev/null | grep '^"SET"' | tr -d '"')
  local took keys_stored more=0 waited
  took=$(python3 -c "print(round($(date +%s.%N) - $started, 1))")
  if [[ "$top_up" != 0 ]]; then
    # Past the aim already: the snapshot that calls for is being written. Aim at the next
    # cycle once it is (its log line comes when it is done).
    for waited in $(seq 0 60); do
      more=$(top_up "$dir")
      ((more > 0 || waited == 60)) && break
      sleep 1
    done
    if ((more > 0)); then
      redis-benchmark -p "$port" -t set -d 256 -r "$keys" -n "$more" -c 64 -P 16 -q >/dev/null
    fi
  fi
  keys_stored=$(redis-cli -p "$port" dbsize)
  "$raftkv" cluster stop --dir "$dir/cluster" >/dev/null
  mv "$dir/cluster/node1/data" "$dir/data"
  rm -rf "$dir/cluster/node2/data" "$dir/cluster/node3/data"
  local snapshots snapshot_ms
  snapshots=$(cat "$dir"/cluster/node*/server.log | grep -c 'snapshot at index' || true)
  snapshot_ms=$(cat "$dir"/cluster/node*/server.log | grep -o 'bytes) written in [0-9]*' |
                  awk '{s += $4} END {print s + 0}')
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$csv"
  echo "| $name | $keys_stored | $took | $rps | $p50 | $p99 | $snapshots | $snapshot_ms |" \
       "$more | $load_avg |" >>"$work/loads.md"
}

# restart NAME: one restart of node 1 from a copy of $work/NAME/data; appends a table row.
restart() {
  local name=$1 dir=$work/$1 run=$work/run
  rm -rf "$run" && mkdir -p "$run" && cp -a "$dir/data" "$run/data"
  local snapshot_mb wal_mb  # Before the start: the node may snapshot once it has replayed.
  snapshot_mb=$(find "$run/data/raft" -name '*.snap' | sort | tail -1 | xargs du -m | cut -f1)
  wal_mb=$(find "$run/data/raft" -name '*.wal' -print0 | du -cm --files0-from=- | tail -1 |
             cut -f1)
  local files read_s
  mapfile -t files < <(find "$run/data/raft" -name '*.wal' -o -name '*.snap' | sort)
  drop_caches
  read_s=$( { TIMEFORMAT=%R; time cat "${files[@]}" >/dev/null; } 2>&1 )
  drop_caches
  local load_avg started_s
  load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
  started_s=$(date +%H:%M:%S.%N | cut -c1-12 | stamp_s)
  "$dir/raftkv-server" --id 1 --data-dir "$run/data" --peers "$peers" \
      --client-addr 127.0.0.1:$((base + 11)) --http-addr 127.0.0.1:$((base + 21)) \
      --log-level info >"$run/server.log" 2>&1 &
  restart_pid=$!
  until grep -q 'serving clients' "$run/server.log"; do
    kill -0 "$restart_pid" 2>/dev/null || { cat "$run/server.log" >&2; exit 1; }
    sleep 0.05
  done
  kill "$restart_pid"
  wait "$restart_pid" || true
  restart_pid=""
  cp "$run/server.log" "$work/$name-restart-$round.log"
  python3 - "$name" "$round" "$started_s" "$run/server.log" "$read_s" "$snapshot_mb" \
      "$wal_mb" "$load_avg" >>"$work/restarts.md" <<'PY'
import re, sys
name, round_, start, log, read_s, snapshot_mb, wal_mb, load = sys.argv[1:]
lines = open(log).read().splitlines()
def at(pattern):  # Seconds from the start to the first line matching `pattern`.
    line = next(l for l in lines if re.search(pattern, l))
    h, m, s = line.split()[0].split(":")
    return (int(h) * 3600 + int(m) * 60 + float(s) - float(start)) % 86400  # Times of day.
recovered = next(l for l in lines if "storage: recovered" in l)
snapshot = int(re.search(r"snapshot (\d+)", recovered).group(1))
commit = int(re.search(r"commit (\d+)", recovered).group(1))
scan, restored, serving = at("storage: recovered"), at("started as follower"), at("serving clients")
read = float(read_s)
print(f"| {name} | {round_} | {serving:.1f} | {scan:.1f} | {restored - scan:.1f} | "
      f"{serving - restored:.1f} | {commit - snapshot} | {snapshot_mb} | {wal_mb} | {read:.2f} | "
      f"{serving / read:.0f}x | {load} |")
PY
}

{
  echo "# Restart time (bench/restart.sh, $(date -u '+%F %H:%M') UTC, commit" \
       "$(git rev-parse --short HEAD))"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/2^20}' /proc/meminfo)"
  echo "- load: redis-benchmark -t set -d 256 -r $keys -n $writes -c 64 -P 16"
} >"$report"
echo "| server | keys | load s | writes/s | p50 ms | p99 ms | snapshots (3 nodes) |" \
     "snapshot ms (sum) | top-up writes | load average |" >"$work/loads.md"
echo "|---|---|---|---|---|---|---|---|---|---|" >>"$work/loads.md"
echo "| server | round | serving after s | WAL scan s | snapshot load s | replay s |" \
     "entries replayed | snapshot MB | WAL MB | read s | restart / read | load average |" \
     >"$work/restarts.md"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|" >>"$work/restarts.md"
names=()
for i in "${!servers[@]}"; do
  names+=("s$((i + 1))")
  echo "- s$((i + 1)): ${servers[$i]}" >>"$report"
  load "s$((i + 1))" "${servers[$i]}"
done
for round in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do restart "$name"; done
done
{
  echo
  cat "$work/loads.md"
  echo
  cat "$work/restarts.md"
  echo
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$report"
cat "$report"
