#!/usr/bin/env bash
# Storage benchmark next to the disk's raw limit, in one run on one directory's file system:
#   fio --rw=write --bs=4k --fdatasync=1     (a write + fdatasync per 4 KiB, i.e. the disk's
#                                             synchronous-append limit)
#   storage_bench append                      (one writer, one fdatasync per append)
#   storage_bench append, 1 MiB segments      (the same, rotating every 256 appends: the
#                                             appender's stall at a rotation)
#   storage_bench group                       (64 appenders through group commit)
#   storage_bench snapshot                    (one writer while 3 snapshots are written)
#   storage_bench write-log + replay          (replay of a large log; peak RSS of the replay)
# and prints each figure with its ratio to fio's.
#
#   bench/storage/run.sh                       # quick: 3 rounds of 2 s per case, 256 MiB log
#   bench/storage/run.sh --seconds 3 --rounds 3 --log-bytes 1073741824 --cold   # the real run
#   bench/storage/run.sh --baseline /tmp/old/storage_bench   # before/after in the same run
# Options: --rounds N (default 3), --dir D (default: a fresh dir under build/), --build B
# (build dir with storage_bench), --fio-size S (default 64m), --cold (drop the page cache
# before the second replay, as after a reboot; needs root), --baseline BIN (another
# storage_bench, e.g. built from an older commit: every case runs with it too, interleaved
# with this one inside the same fio brackets, and the summary gives both).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build/release"
seconds=2
rounds=3
log_bytes=$((256 << 20))
fio_size=64m
work=""
cold=0
baseline=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --log-bytes) log_bytes="$2"; shift 2 ;;
    --fio-size) fio_size="$2"; shift 2 ;;
    --dir) work="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --cold) cold=1; shift ;;
    --baseline) baseline="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--log-bytes B] [--fio-size S] [--dir D] [--build B]" \
            "[--cold] [--rounds N] [--baseline BIN]" >&2
       exit 2 ;;
  esac
done
if [[ ! -x "$build/bench/storage/storage_bench" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target storage_bench -j2
fi
bench="$build/bench/storage/storage_bench"
benches=("new=$bench")
if [[ -n "$baseline" ]]; then benches=("baseline=$baseline" "new=$bench"); fi
work="${work:-$root/build/bench-storage-data}"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)" >&2

# The disk is shared (and virtual): its sync latency drifts by several times within a minute.
# So every storage case is bracketed by two short fio runs (time-based, same duration) and its
# ratio uses their mean: the figures compare like with like within seconds of each other. Each
# case runs --rounds times; the summary gives the median ratio and the range.
fio_op_us() {  # Prints fio's mean time per write+fdatasync in microseconds.
  fio --name=fdatasync --directory="$work" --rw=write --bs=4k --fdatasync=1 --size="$fio_size" \
      --runtime="$seconds" --time_based --output-format=json >"$work/fio.json"
  rm -f "$work"/fdatasync.*
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; \
print("%.1f %.1f" % (1e6 / j["write"]["iops"], j["sync"]["lat_ns"]["mean"] / 1e3))' "$work/fio.json"
}

results="$work/results.txt"
: >"$results"
# Runs one storage case with every bench (bench=<label> on its line), all between two fio
# runs; appends fio_op_us=... to each line. Usage: bracketed <case-name> <storage_bench args>.
# The benches take turns going first (by round), so neither always follows fio's writes.
bracketed() {
  local name="$1"
  shift
  echo "+ fio, $name: $*, fio" >&2
  local before after lines=() entry label binary order=("${benches[@]}")
  if (( round % 2 == 0 )); then
    order=()
    for entry in "${benches[@]}"; do order=("$entry" "${order[@]}"); done
  fi
  before=$(fio_op_us)
  for entry in "${order[@]}"; do
    label="${entry%%=*}"
    binary="${entry#*=}"
    lines+=("$("$binary" --dir "$work/$label/$name" "$@") bench=$label")
  done
  after=$(fio_op_us)
  for line in "${lines[@]}"; do
    echo "$line fio_op_us_before=${before% *} fio_op_us_after=${after% *}" \
         "fio_sync_us_before=${before#* } fio_sync_us_after=${after#* }" | tee -a "$results"
  done
}
run() { echo "+ $*" >&2; "$@" | tee -a "$results"; }
for round in $(seq "$rounds"); do
  bracketed a100 --mode append --record-bytes 100 --seconds "$seconds"
  bracketed a4k --mode append --record-bytes 4096 --seconds "$seconds"
  bracketed rot --mode append --record-bytes 4096 --segment-bytes 1048576 --seconds "$seconds"
  bracketed g100 --mode group --record-bytes 100 --appenders 64 --seconds "$seconds"
  bracketed g4k --mode group --record-bytes 4096 --appenders 64 --seconds "$seconds"
  bracketed g100p --mode group --record-bytes 100 --appenders 64 --inflight 16 \
      --seconds "$seconds"
  bracketed snap --mode snapshot --record-bytes 100 --snapshot-writers 3 \
      --snapshot-bytes $((256 << 20))
done
run "$bench" --dir "$work/log" --mode write-log --log-bytes "$log_bytes"
sync  # The log's dirty pages written back now, not during the first replay.
replays=("${benches[@]}")
if [[ -n "$baseline" ]]; then replays=("${benches[@]}" "new=$bench" "baseline=$baseline"); fi
for entry in "${replays[@]}"; do
  echo "+ ${entry#*=} --dir $work/log --mode replay" >&2
  "${entry#*=}" --dir "$work/log" --mode replay | sed "s/\$/ bench=${entry%%=*}/" |
    tee -a "$results"
done
if [[ $cold == 1 ]]; then
  # A restart after a reboot: nothing of the log in the page cache (needs root).
  sync && echo 3 >/proc/sys/vm/drop_caches
  echo "+ $bench --dir $work/log --mode replay (cold cache)" >&2
  "$bench" --dir "$work/log" --mode replay | sed 's/^mode=replay/mode=replay cache=cold/' |
    sed 's/$/ bench=new/' | tee -a "$results"
fi
# Sequential read speed of one of the log's own segments (fio drops its pages from the cache
# first), for the cold replay's ratio.
echo "+ fio sequential read of a log segment" >&2
read_mib_s=$(fio --name=read --filename="$(ls "$work"/log/*.wal | head -1)" --readonly \
    --rw=read --bs=1m --size=64m --invalidate=1 --output-format=json 2>/dev/null |
  python3 -c 'import json, sys
print("%.0f" % (json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"] / 2**20))' || echo 0)
echo "mode=fio-read mib_per_s=$read_mib_s" | tee -a "$results"

python3 - "$results" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1])]
read_mib_s = next((float(r["mib_per_s"]) for r in rows if r["mode"] == "fio-read"), 0.0)

def fio_us(row):
    return (float(row["fio_op_us_before"]) + float(row["fio_op_us_after"])) / 2

def spread(values, fmt):
    return f"median {fmt.format(statistics.median(values))} " \
           f"(range {fmt.format(min(values))}..{fmt.format(max(values))})"

print()
cases = {}
for row in rows:
    if row["mode"] in ("append", "group", "snapshot"):
        key = (row["mode"], row["record_bytes"], row.get("segment_bytes"), row.get("appenders"),
               row.get("inflight"), row.get("bench", "new"))
        cases.setdefault(key, []).append(row)
for (mode, size, segment, appenders, inflight, bench), runs in cases.items():
    fio = [fio_us(r) for r in runs]
    tag = f"[{bench:>8}]"
    if mode == "append" and int(segment or 0) <= (1 << 20):
        rotating = [float(r["rotating_us_mean"]) for r in runs if int(r["rotating_count"])]
        worst = [float(r["rotating_us_max"]) for r in runs if int(r["rotating_count"])]
        other = [float(r["other_us_p99"]) for r in runs]
        stall = [m / f for m, f in zip(rotating, fio)]
        print(f"{tag} rotation {size:>5} B, 1 MiB segments, {len(runs)} rounds: an append that "
              f"rotates takes {spread(stall, '{:.1f}')} x a fio op (mean "
              f"{spread(rotating, '{:.0f}')} us, max {spread(worst, '{:.0f}')} us); other "
              f"appends p99 {spread(other, '{:.0f}')} us")
    elif mode == "snapshot":
        p50 = [float(r["latency_us_p50"]) for r in runs]
        p99 = [float(r["latency_us_p99"]) for r in runs]
        worst = [float(r["latency_us_max"]) for r in runs]
        took = [float(r["snapshot_seconds_max"]) for r in runs]
        writers, mib = runs[0]["snapshot_writers"], int(runs[0]["snapshot_bytes"]) >> 20
        print(f"{tag} append {size:>5} B beside {writers} snapshots of {mib} MiB, {len(runs)} "
              f"rounds: p50 {spread(p50, '{:.0f}')} us, p99 {spread(p99, '{:.0f}')} us (fio op "
              f"{spread(fio, '{:.0f}')} us), max {spread(worst, '{:.0f}')} us; snapshots took "
              f"{spread(took, '{:.2f}')} s")
    elif mode == "append":
        ours = [float(r["latency_us_mean"]) for r in runs]
        ratios = [o / f for o, f in zip(ours, fio)]
        print(f"{tag} append {size:>5} B, 1 writer, {len(runs)} rounds: mean latency "
              f"{spread(ours, '{:.0f}')} us vs fio write+fdatasync {spread(fio, '{:.0f}')} us "
              f"-> ratio {spread(ratios, '{:.2f}')} (target <= 1.1)")
    else:
        per_s = [float(r["per_s"]) for r in runs]
        ratios = [p * f / 1e6 for p, f in zip(per_s, fio)]
        per_sync = [float(r["records_per_sync"]) for r in runs]
        wait = [float(r.get("wait_us_p99", "nan")) for r in runs]
        print(f"{tag} group  {size:>5} B, {appenders} appenders x {inflight} in flight: "
              f"records/s {spread(per_s, '{:.0f}')}, per sync {spread(per_sync, '{:.0f}')}, "
              f"wait p99 {spread(wait, '{:.0f}')} us -> {spread(ratios, '{:.1f}')} x fio ops/s")
for row in rows:
    if row["mode"] == "replay":
        cache = row.get("cache", "warm")
        ratio = f" = {float(row['mib_per_s']) / read_mib_s:.2f} x fio sequential read" \
            if cache == "cold" and read_mib_s else ""
        print(f"[{row.get('bench', 'new'):>8}] replay ({cache} cache) {row['entries']} x 4 KiB "
              f"entries, {row['segments']} segments: {row['seconds']} s, {row['mib_per_s']} "
              f"MiB/s{ratio}, peak RSS {row['peak_rss_mib']} MiB (target >= 500 MiB/s)")
    elif row["mode"] == "fio-read":
        print(f"fio sequential read (cold cache): {row['mib_per_s']} MiB/s")
PY
