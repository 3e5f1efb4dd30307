#!/usr/bin/env bash
# raftkv against etcd with both systems' TLS on and off, in the same run, with one load tool
# (issue 17): does the ratio to etcd hold when both are encrypted?
#   bench/tls_etcd.sh [--rounds N] [--seconds S] [--clients C] [--connections M] [--dir D]
#                     [--build DIR] [--base-port P]
#   --rounds       turns per case (default 3); the four cases take turns within a round, in
#                  the reverse order every other round
#   --seconds      measured seconds per run, after 2 s of warmup (default 20)
#   --clients      closed-loop clients (default 256); --connections they share (default 64,
#                  as bench/compare.sh uses beyond 64 clients)
#   --dir          scratch directory, emptied first (default /tmp/raftkv-tls-etcd)
#   --build        build dir with raftkv, raftkv-server and a raftkv-bench configured with
#                  -DRAFTKV_ETCD_BENCH=ON (default build/release)
#   --base-port    first of the 90 loopback ports used (default 26200)
# Four 3-node clusters side by side, all on loopback and this disk, fsync on every commit:
# raftkv plaintext, raftkv with `raftkv cluster start --tls` (TLS on client and peer links),
# etcd plaintext, and etcd with https client and peer URLs, mutual TLS on both, using the
# raftkv cluster's throwaway CA and node certificates. Every run: `raftkv-bench --target
# raftkv|etcd [--tls --cacert --cert --key] --clients C --connections M --keyspace 100000
# --value-size 256`, the leader first in --endpoints. Writes bench/results/<date>-tls-etcd.md
# (and the raw JSON lines, .jsonl) and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
seconds=20
clients=256
connections=64
dir=/tmp/raftkv-tls-etcd
build=build/release
base=26200
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    *) sed -n '3,4p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done

source bench/lib.sh
bench_install etcd-server openssl python3
source bench/compare/etcd.sh
raftkv=$build/tools/raftkv/raftkv
bench_bin=$build/tools/raftkv-bench/raftkv-bench
for binary in "$raftkv" "$build/src/server/raftkv-server" "$bench_bin"; do
  [[ -x "$binary" ]] || { echo "tls_etcd: build it first: $binary" >&2; exit 2; }
done
bench_require_etcd_target tls_etcd "$bench_bin" "$build"

certs=$dir/raftkv-tls/tls  # The throwaway CA of bench_tls_pair_start's TLS cluster.

endpoints_from() {  # FIRST_PORT: "127.0.0.1:P,127.0.0.1:P+1,127.0.0.1:P+2".
  echo "127.0.0.1:$1,127.0.0.1:$(($1 + 1)),127.0.0.1:$(($1 + 2))"
}

# etcd plaintext: clients base+71.., peers base+74..; etcd TLS: clients base+81.., peers +84..
etcd_as() {  # plain|tls COMMAND ARGS...: an etcd.sh function on that cluster's layout.
  local link=$1
  shift
  if [[ $link == plain ]]; then
    ETCD_CLIENT_PORT=$((base + 71)) ETCD_PEER_PORT=$((base + 74)) ETCD_TLS_DIR='' "$@"
  else
    ETCD_CLIENT_PORT=$((base + 81)) ETCD_PEER_PORT=$((base + 84)) ETCD_TLS_DIR=$certs "$@"
  fi
}

stop_all() {
  bench_tls_pair_stop "$raftkv" "$dir"
  etcd_as plain etcd_stop "$dir/etcd-plain" 2>/dev/null || true
  etcd_as tls etcd_stop "$dir/etcd-tls" 2>/dev/null || true
}
trap stop_all EXIT

# SYSTEM LINK: "POSITION ENDPOINTS" with the leader first, waiting up to 30 s for one.
leader_first() {
  case "$1-$2" in
    raftkv-plain) bench/compare/cluster.py --system raftkv --wait 30 \
                      --endpoints "$(endpoints_from $((base + 11)))" ;;
    raftkv-tls)  # Found on the plaintext client ports; measured on the TLS ones (+10).
      local position
      read -r position _ < <(bench/compare/cluster.py --system raftkv --wait 30 \
                                 --endpoints "$(endpoints_from $((base + 41)))")
      local ports=($((base + 51)) $((base + 52)) $((base + 53)))
      local first=${ports[$((position - 1))]} rest=()
      for port in "${ports[@]}"; do [[ $port == "$first" ]] || rest+=("127.0.0.1:$port"); done
      echo "$position 127.0.0.1:$first,${rest[0]},${rest[1]}" ;;
    etcd-plain) bench/compare/cluster.py --system etcd --wait 30 \
                    --endpoints "$(endpoints_from $((base + 71)))" ;;
    etcd-tls) bench/compare/cluster.py --system etcd --wait 30 --tls-dir "$certs" \
                  --endpoints "$(endpoints_from $((base + 81)))" ;;
  esac
}

start_all() {
  stop_all
  rm -rf "$dir" && mkdir -p "$dir"
  bench_tls_pair_start "$raftkv" "$dir" "$base"
  etcd_as plain etcd_start "$dir/etcd-plain"
  etcd_as tls etcd_start "$dir/etcd-tls"
  local system link
  for system in raftkv etcd; do
    for link in plain tls; do
      leader_first "$system" "$link" >/dev/null ||
          { echo "tls_etcd: $system ($link) has no leader" >&2; exit 1; }
    done
  done
}

raw="$dir/raw.jsonl"
run_case() {  # ROUND SYSTEM LINK [extra raftkv-bench flags]: one run, its JSON line in $raw.
  local round=$1 system=$2 link=$3 endpoints line load
  shift 3
  read -r _ endpoints < <(leader_first "$system" "$link")
  local -a flags=()
  [[ $link == plain ]] || flags=("${bench_tls_flags[@]}")
  load=$(cut -d' ' -f1 /proc/loadavg)
  line=$("$bench_bin" --target "$system" --endpoints "$endpoints" "${flags[@]}" \
             --clients "$clients" --connections "$connections" --keyspace 100000 \
             --value-size 256 --warmup 2 --duration "$seconds" --json --quiet "$@" \
             2>>"$dir/bench.err" | grep '^{' | tail -1) || true
  [[ -n "$line" ]] || { echo "tls_etcd: no result for $system $link" >&2; return 0; }
  python3 -c 'import json, sys
line = json.loads(sys.argv[1])
line.update(round=int(sys.argv[2]), system=sys.argv[3], link=sys.argv[4], load=sys.argv[5])
print(json.dumps(line))' "$line" "$round" "$system" "$link" "$load" >>"$raw"
}

start_all
: >"$raw"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cases=("raftkv plain" "raftkv tls" "etcd plain" "etcd tls")
for round in $(seq "$rounds"); do
  order=("${cases[@]}")
  (( round % 2 == 1 )) || order=("${cases[3]}" "${cases[2]}" "${cases[1]}" "${cases[0]}")
  for case_ in "${order[@]}"; do
    read -r system link <<<"$case_"
    run_case "$round" "$system" "$link"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
stop_all

results="bench/results/$(date -u +%Y-%m-%d)-tls-etcd.md"
mkdir -p bench/results
cp "$raw" "${results%.md}.jsonl"
python3 - "$raw" "$rounds" "$(nproc)" "$load_start" "$load_end" \
    "$(git rev-parse --short HEAD)" "$("$ETCD_BIN" --version | head -1 | awk '{print $3}')" \
    "$clients" "$connections" "$seconds" >"$results" <<'PY'
import json, statistics, sys, time
raw, rounds, cores, load_start, load_end, commit, etcd, clients, connections, seconds = \
    sys.argv[1:]
rows = [json.loads(line) for line in open(raw)]
def ops(system, link):
    return {r["round"]: r for r in rows if r["system"] == system and r["link"] == link}
print(f"# raftkv and etcd {etcd}, TLS against plaintext, "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
print(f"Commit {commit}. {cores} cores, load {load_start} at the start, {load_end} at the end. "
      f"`raftkv-bench --clients {clients} --connections {connections} --keyspace 100000 "
      f"--value-size 256 --duration {seconds}` (writes), leader first, four 3-node clusters "
      "side by side taking turns. Ops/s per round; medians in the last row.\n")
print("| round | raftkv plain | raftkv TLS | etcd plain | etcd TLS | raftkv TLS/plain "
      "| etcd TLS/plain | raftkv/etcd plain | raftkv/etcd TLS |")
print("|---|---|---|---|---|---|---|---|---|")
series = {k: ops(*k) for k in [("raftkv", "plain"), ("raftkv", "tls"), ("etcd", "plain"),
                                 ("etcd", "tls")]}
columns = {k: [] for k in ["kp", "kt", "ep", "et", "k", "e", "p", "t"]}
for round_ in sorted(series[("raftkv", "plain")]):
    try:
        kp, kt, ep, et = (series[k][round_]["throughput"] for k in series)
    except KeyError:
        continue
    values = dict(kp=kp, kt=kt, ep=ep, et=et, k=kt / kp, e=et / ep, p=kp / ep, t=kt / et)
    for key, value in values.items():
        columns[key].append(value)
    print(f"| {round_} | {kp:,.0f} | {kt:,.0f} | {ep:,.0f} | {et:,.0f} | {values['k']:.2f} "
          f"| {values['e']:.2f} | {values['p']:.2f} | {values['t']:.2f} |")
if columns["kp"]:
    m = {key: statistics.median(values) for key, values in columns.items()}
    print(f"| median | {m['kp']:,.0f} | {m['kt']:,.0f} | {m['ep']:,.0f} | {m['et']:,.0f} "
          f"| {m['k']:.2f} | {m['e']:.2f} | {m['p']:.2f} | {m['t']:.2f} |")
print("\np50 / p99 ms per run: " + "; ".join(
    f"{r['system']} {r['link']} r{r['round']} {r['p50_ms']:.1f} / {r['p99_ms']:.1f}"
    for r in rows))
PY
cat "$results"
