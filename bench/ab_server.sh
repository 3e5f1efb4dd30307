#!/usr/bin/env bash
# Before/after for a change to raftkv-server: two server binaries take turns on fresh 3-node
# clusters, with the same raftkv-bench write load, and the report gives each one's median and
# range per client count and the ratio after/before. Turns alternate (and which binary goes
# first alternates per round), because this shared machine drifts within minutes.
#   bench/ab_server.sh --baseline OLD_SERVER [--server NEW_SERVER] [--clients "1 16 256"]
#                      [--rounds N] [--seconds S] [--build DIR] [--floor] [--keyspace K]
#   --baseline  the "before" raftkv-server, e.g. built from an older commit in a worktree; both
#               binaries must be named raftkv-server (cluster stop finds its nodes by name)
#   --server    the "after" one (default: DIR/src/server/raftkv-server)
#   --clients   client counts to measure (default "1 16 256"; at most 64 connections)
#   --rounds    turns per binary and client count (default 3)
#   --seconds   measured seconds per turn (default 6, after 1 s of warmup)
#   --build     build dir with raftkv and raftkv-bench (default build/release)
#   --floor     also run bench/floor's replication_floor (no Raft: the least a replicated
#               write costs here) in each round's 1-client turns, and report both binaries'
#               1-client throughput and p50 against it (issue 20's one-client goal)
#   --keyspace  write keys drawn uniformly from K keys, all written first (raftkv-bench
#               --keyspace K --prefill K), rather than a fresh key each write: each write then
#               lands anywhere in the key space, where fresh keys are written in key order
# fio (4 KiB write + fdatasync) runs at the start and the end. Writes build/ab-server/report.md
# and prints it. Loopback ports 24101-24123.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=""
server=""
clients="1 16 256"
rounds=3
seconds=6
build=build/release
floor=0
keyspace=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    --server) server="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --floor) floor=1; shift ;;
    --keyspace) keyspace="$2"; shift 2 ;;
    *) sed -n '6,7p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
server=${server:-$build/src/server/raftkv-server}
floor_bin=$build/bench/replication_floor
needed=("$baseline" "$server" "$build/tools/raftkv/raftkv" "$build/tools/raftkv-bench/raftkv-bench")
((floor)) && needed+=("$floor_bin")
for binary in "${needed[@]}"; do
  [[ -x "$binary" ]] || { echo "ab_server: not an executable: '$binary'" >&2; exit 2; }
done
# `raftkv cluster stop` recognizes its nodes by this name; another would be left running.
for binary in "$baseline" "$server"; do
  [[ $(basename "$binary") == raftkv-server ]] ||
    { echo "ab_server: '$binary' must be named raftkv-server (copy it into a folder)" >&2; exit 2; }
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "ab_server: --rounds wants a positive integer" >&2; exit 2; }
[[ $keyspace =~ ^[0-9]+$ ]] ||
  { echo "ab_server: --keyspace wants a number of keys" >&2; exit 2; }
key_options=()
((keyspace > 0)) && key_options=(--keyspace "$keyspace" --prefill "$keyspace")

source bench/lib.sh
work=build/ab-server
cluster=$work/cluster
results=$work/results.tsv
mkdir -p "$work"
: >"$results"
readonly PEER_PORT=24101 CLIENT_PORT=24111 HTTP_PORT=24121

stop_cluster() {
  [[ -f "$cluster/cluster.conf" ]] || return 0
  "$build/tools/raftkv/raftkv" cluster stop --dir "$cluster" >/dev/null 2>&1 || true
}
trap stop_cluster EXIT

# turn LABEL SERVER CLIENTS: fresh cluster, one raftkv-bench write run against its leader.
turn() {
  local label=$1 binary=$2 count=$3 endpoints="" line
  stop_cluster
  rm -rf "$cluster"
  "$build/tools/raftkv/raftkv" cluster start --dir "$cluster" --nodes 3 --server "$binary" \
      --log-level warn --base-peer-port "$PEER_PORT" --base-client-port "$CLIENT_PORT" \
      --base-http-port "$HTTP_PORT" >"$work/start.log" 2>&1 ||
    { cat "$work/start.log" >&2; echo "ab_server: $label failed to start" >&2; exit 1; }
  for port in $(seq "$CLIENT_PORT" $((CLIENT_PORT + 2))); do
    endpoints+="${endpoints:+,}127.0.0.1:$port"
  done
  endpoints=$(bench/compare/cluster.py --system raftkv --endpoints "$endpoints" --wait 30 |
                awk '{print $2}')
  line=$("$build/tools/raftkv-bench/raftkv-bench" --target raftkv --endpoints "$endpoints" \
             --clients "$count" --connections $((count < 64 ? count : 64)) --key-size 16 \
             --value-size 256 "${key_options[@]}" --duration "$seconds" --warmup 1 --json \
             --quiet 2>/dev/null |
           grep '^{' | tail -1)
  record "$line" "$label" "$count"
}

# record JSON LABEL CLIENTS: one line of the results table from a JSON result.
record() {
  python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print("\t".join(map(str, [sys.argv[2], sys.argv[3], round(d["throughput"]), d["p50_ms"],
                          d["p99_ms"], d.get("errors", 0)])))' "$1" "$2" "$3" >>"$results"
  tail -1 "$results" >&2
}

# floor_turn: the replication floor, one write at a time, as long as a turn.
floor_turn() {
  local line
  stop_cluster
  rm -rf "$work/floor"
  line=$("$floor_bin" --dir "$work/floor" --seconds "$seconds" --warmup 1) ||
    { echo "ab_server: replication_floor failed" >&2; exit 1; }
  rm -rf "$work/floor"
  record "$line" floor 1
}

read -r _ fio_start _ < <(bench_fio "$work/fio" 3)
for round in $(seq "$rounds"); do
  for count in $clients; do
    if ((round % 2)); then order=(before after); else order=(after before); fi
    for label in "${order[@]}"; do
      if [[ $label == before ]]; then binary=$baseline; else binary=$server; fi
      turn "$label" "$binary" "$count"
    done
    if ((floor)) && [[ $count == 1 ]]; then floor_turn; fi
  done
done
stop_cluster
read -r _ fio_end _ < <(bench_fio "$work/fio" 3)

python3 - "$results" "$fio_start" "$fio_end" "$baseline" "$server" "$rounds" "$seconds" \
    "$keyspace" >"$work/report.md" <<'PY'
import statistics, sys
path, fio_start, fio_end, baseline, server, rounds, seconds, keyspace = sys.argv[1:]
runs = {}
for line in open(path):
    label, clients, ops, p50, p99, errors = line.split("\t")
    runs.setdefault((int(clients), label), []).append(
        (int(ops), float(p50), float(p99), int(errors)))
def cell(values, digits):
    med = statistics.median(values)
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}..{max(values):,.{digits}f})"
print(f"# raftkv-server before/after: {rounds} alternating turns of {seconds} s per binary\n")
print(f"- before: `{baseline}`\n- after: `{server}`")
print(f"- fio fdatasync p50: {fio_start} us at the start, {fio_end} us at the end\n")
print("| clients | before writes/s | after writes/s | after/before | before p50 ms | "
      "after p50 ms | before p99 ms | after p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for clients in sorted({c for c, label in runs if label != "floor"}):
    b, a = runs[(clients, "before")], runs[(clients, "after")]
    ratio = statistics.median(r[0] for r in a) / statistics.median(r[0] for r in b)
    print(f"| {clients} | {cell([r[0] for r in b], 0)} | {cell([r[0] for r in a], 0)} | "
          f"{ratio:.2f} | {cell([r[1] for r in b], 3)} | {cell([r[1] for r in a], 3)} | "
          f"{cell([r[2] for r in b], 3)} | {cell([r[2] for r in a], 3)} | "
          f"{sum(r[3] for r in b + a)} |")
keys = ("a fresh key per write, in key order" if keyspace == "0" else
        f"keys uniform among {int(keyspace):,}, all written before the measured seconds")
print(f"\nMedian of the turns, range in brackets; every turn starts a fresh cluster; {keys}.")
if (1, "floor") in runs:
    f = runs[(1, "floor")]
    floor_ops = statistics.median(r[0] for r in f)
    floor_p50 = statistics.median(r[1] for r in f)
    print(f"\n## One client against the replication floor (bench/floor, no Raft)\n")
    print(f"Floor: {cell([r[0] for r in f], 0)} writes/s, p50 {cell([r[1] for r in f], 3)} ms.\n")
    print("| binary | writes/s / floor's | p50 / floor's |")
    print("|---|---|---|")
    for label in ("before", "after"):
        r = runs[(1, label)]
        print(f"| {label} | {statistics.median(x[0] for x in r) / floor_ops:.2f} | "
              f"{statistics.median(x[1] for x in r) / floor_p50:.2f} |")
PY
cat "$work/report.md"
