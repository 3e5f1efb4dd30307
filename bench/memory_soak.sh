#!/usr/bin/env bash
# Memory soak (issue 6 §2): does a raftkv node's memory stay bounded under a long write load
# once snapshots compact the log? A 3-node raftkv cluster on loopback (snapshots every 20,000
# applied entries via --server-arg=--snapshot-entries=20000 unless --snapshot-entries says
# otherwise; 0 leaves the default size-proportional policy alone) takes
# writes from 64 clients over a bounded keyspace of 100,000 keys (so the state machine stops
# growing after the first pass) for --minutes; every 10 s the script samples each node's
# VmRSS/VmHWM (/proc/PID/status), its snapshots taken (/metrics) and its data dir size.
#   bench/memory_soak.sh [--minutes N] [--interval S] [--snapshot-entries N] [--skip-build]
#                        [--build DIR] [--bench PATH]
# Writes bench/results/<date>-memory.md (and the samples as <date>-memory.tsv) and prints it;
# other policies or lengths get their own names (<date>-memory-default-policy-60min.md).
# Not part of bench/compare.sh. Ports 24051-24073 on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
interval=10
snapshot_entries=20000
skip_build=0
build=build/bench
bench_bin=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --build) build="$2"; shift 2 ;;
    --bench) bench_bin="$2"; shift 2 ;;
    --snapshot-entries) snapshot_entries="$2"; shift 2 ;;
    *) sed -n '9,10p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
build=$(realpath -m "$build")
bench_bin=${bench_bin:-$build/tools/raftkv-bench/raftkv-bench}
source bench/lib.sh

readonly PEER_PORT=24051 CLIENT_PORT=24061 HTTP_PORT=24071
readonly CLIENTS=64 KEYSPACE=100000 VALUE_SIZE=256
endpoints=127.0.0.1:$CLIENT_PORT,127.0.0.1:$((CLIENT_PORT + 1)),127.0.0.1:$((CLIENT_PORT + 2))
run=$build/soak
date=$(date -u +%F)
case "$snapshot_entries" in  # Runs with other policies do not overwrite the usual report.
  20000) name=memory ;;
  0) name=memory-default-policy ;;
  *) name=memory-entries-$snapshot_entries ;;
esac
[[ $minutes == 10 ]] || name+=-${minutes}min  # Nor do runs of another length.
report=bench/results/$date-$name.md
samples=bench/results/$date-$name.tsv
log() { echo "memory_soak: $*" >&2; }

scripts/setup.sh
bench_install python3 curl
if [[ $skip_build -eq 0 ]]; then
  if [[ ! -f "$build/build.ninja" ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  ninja -C "$build" raftkv-server raftkv raftkv-bench >"$build/soak-build.log" 2>&1 ||
    { tail -30 "$build/soak-build.log" >&2; log "build failed"; exit 1; }
fi
raftkv=$build/tools/raftkv/raftkv
for binary in "$raftkv" "$build/src/server/raftkv-server" "$bench_bin"; do
  [[ -x "$binary" ]] || { log "missing $binary"; exit 1; }
done

bench_pid=""
stop_all() {
  [[ -z "$bench_pid" ]] || kill -KILL "$bench_pid" 2>/dev/null || true
  [[ ! -f "$run/cluster/cluster.conf" ]] ||
    "$raftkv" cluster stop --dir "$run/cluster" >/dev/null 2>&1 || true
}
trap 'status=$?; stop_all; exit $status' EXIT
trap 'exit 130' INT TERM

stop_all  # A cluster that a killed earlier run left behind (found by its pid files).
rm -rf "$run"
mkdir -p "$run" bench/results
"$raftkv" cluster start --dir "$run/cluster" --nodes 3 --log-level warn \
    --server "$build/src/server/raftkv-server" --base-peer-port "$PEER_PORT" \
    --base-client-port "$CLIENT_PORT" --base-http-port "$HTTP_PORT" \
    --server-arg="--snapshot-entries=$snapshot_entries" >"$run/start.log" 2>&1 ||
  { cat "$run/start.log" >&2; log "raftkv failed to start"; exit 1; }
if ! read -r _ ordered < <(bench/compare/cluster.py --system raftkv --endpoints "$endpoints" \
                                                    --wait 30); then
  log "no healthy cluster"
  exit 1
fi

seconds=$((minutes * 60))
log "$minutes min of writes: $CLIENTS clients, keyspace $KEYSPACE, $VALUE_SIZE-byte values"
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
"$bench_bin" --target raftkv --endpoints "$ordered" --clients "$CLIENTS" --connections "$CLIENTS" \
    --duration "$seconds" --warmup 0 --keyspace "$KEYSPACE" --read-ratio 0 \
    --value-size "$VALUE_SIZE" --label memory-soak --json --quiet \
    >"$run/bench.json" 2>"$run/bench.err" &
bench_pid=$!

sample() {  # ELAPSED_S: one line per node.
  local id pid hwm rss snapshots data_kb
  for id in 1 2 3; do
    pid=$(cat "$run/cluster/node$id/server.pid" 2>/dev/null || true)
    read -r hwm rss < <(bench_rss_kb "$pid") || { hwm=NaN; rss=NaN; }
    snapshots=$(curl -s --max-time 2 "http://127.0.0.1:$((HTTP_PORT + id - 1))/metrics" |
                awk '/^raftkv_snapshots_taken_total/ {print $2}' || true)
    data_kb=$(du -sk "$run/cluster/node$id/data" 2>/dev/null | cut -f1 || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$id" "$rss" "$hwm" "${snapshots:-NaN}" \
        "${data_kb:-NaN}" >>"$samples"
  done
}

printf 'elapsed_s\tnode\trss_kb\thwm_kb\tsnapshots_taken\tdata_kb\n' >"$samples"
t0=$(date +%s)
sample 0
while kill -0 "$bench_pid" 2>/dev/null; do
  sleep "$interval"
  sample $(($(date +%s) - t0))
  log "$(($(date +%s) - t0)) s: RSS MiB $(tail -3 "$samples" | awk '{printf "%.0f ", $3 / 1024}')"
done
wait "$bench_pid" || true
bench_pid=""
sample $(($(date +%s) - t0))
"$raftkv" cluster stop --dir "$run/cluster" >/dev/null

python3 - "$samples" "$run/bench.json" "$started" "$minutes" "$interval" "$snapshot_entries" \
    >"$report" <<'PY'
import csv, json, sys
samples, bench_path, started, minutes, interval, snapshot_entries = sys.argv[1:]
rows = list(csv.DictReader(open(samples), delimiter="\t"))
bench = None
for line in open(bench_path):
    if line.startswith("{"):
        bench = json.loads(line)
mib = lambda kb: f"{float(kb) / 1024:,.1f}"
print(f"# raftkv memory soak, {started}\n")
policy = (f"snapshots every {int(snapshot_entries):,} entries (`--snapshot-entries`) or by the "
          "default policy" if int(snapshot_entries) else
          "snapshots by the default policy (log at 4x the last snapshot, at least 64 MiB)")
print(f"`bench/memory_soak.sh --minutes {minutes} --snapshot-entries {snapshot_entries}`: 3 nodes "
      f"on loopback, {policy}, 64 clients "
      "writing 256-byte values over 100,000 keys (the state stops growing after the first "
      f"pass), RSS sampled every {interval} s. Memory is bounded if the maximum stops rising "
      "after the first minutes and the last sample is near it rather than above.\n")
if bench:
    print(f"Load: {bench['ops']:,} writes in {bench['duration_s']:.0f} s = "
          f"{bench['throughput']:,.0f}/s, p50 {bench['p50_ms']:.2f} ms, "
          f"p99 {bench['p99_ms']:.2f} ms, errors {bench['errors']}.\n")
else:
    print("Load: raftkv-bench printed no result (see build/bench/soak/bench.err).\n")
print("| node | RSS min MiB | RSS max MiB | RSS last MiB | VmHWM MiB | snapshots taken "
      "| data dir MiB (last) |")
print("|---|---|---|---|---|---|---|")
for node in ("1", "2", "3"):
    mine = [r for r in rows if r["node"] == node and r["rss_kb"] != "NaN"]
    if not mine:
        print(f"| {node} | – | – | – | – | – | – |")
        continue
    rss = [float(r["rss_kb"]) for r in mine]
    last = mine[-1]
    print(f"| {node} | {mib(min(rss))} | {mib(max(rss))} | {mib(rss[-1])} | "
          f"{mib(last['hwm_kb'])} | {last['snapshots_taken']} | {mib(last['data_kb'])} |")
print("\n## RSS per minute (MiB)\n")
print("| elapsed | node 1 | node 2 | node 3 |")
print("|---|---|---|---|")
by_time = {}
for r in rows:
    by_time.setdefault(int(r["elapsed_s"]), {})[r["node"]] = r["rss_kb"]
next_minute = 0
times = sorted(by_time)
for t in times:
    if t >= next_minute or t == times[-1]:
        cells = [mib(by_time[t][n]) if by_time[t].get(n, "NaN") != "NaN" else "–"
                 for n in ("1", "2", "3")]
        print(f"| {t} s | " + " | ".join(cells) + " |")
        next_minute = (t // 60 + 1) * 60
print(f"\nEvery sample: `{samples.split('/')[-1]}` beside this file.")
PY
cat "$report"
