#!/usr/bin/env bash
# Draws the write cases of a bench/compare.sh run as one PNG with two panels: throughput vs
# clients, and p50/p99 latency vs clients, raftkv and etcd in each (log-log).
#   bench/compare/plot.sh RESULTS.jsonl OUT.png [WORK_DIR]
# Needs gnuplot (gnuplot-nox) with the pngcairo terminal, else the plain png one.
set -euo pipefail
jsonl=$1
png=$2
work=${3:-$(mktemp -d)}
mkdir -p "$work"
data=$work/writes.tsv

# clients, then for raftkv and etcd: ops/s, p50 ms, p99 ms ("NaN" where a case is missing),
# from each system's best round, as in the report.
python3 - "$jsonl" >"$data" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    record = json.loads(line)
    if record.get("kind") == "bench" and record.get("workload") == "writes":
        systems = rows.setdefault(record["clients"], {})
        kept = systems.get(record["system"])
        if kept is None or record["throughput"] > kept["throughput"]:
            systems[record["system"]] = record
print("# clients raftkv_ops raftkv_p50 raftkv_p99 etcd_ops etcd_p50 etcd_p99")
for clients in sorted(rows):
    cells = [str(clients)]
    for system in ("raftkv", "etcd"):
        record = rows[clients].get(system)
        for field in ("throughput", "p50_ms", "p99_ms"):
            cells.append("NaN" if record is None else repr(float(record[field])))
    print(" ".join(cells))
PY

terminal="pngcairo size 1400,560 font 'sans,11'"
gnuplot -e "set terminal $terminal" >/dev/null 2>&1 || terminal="png size 1400,560"
title="raftkv vs etcd, 3 nodes, writes of 256-byte values ($(basename "$jsonl" .jsonl))"
gnuplot <<GP
set terminal $terminal
set output '$png'
set multiplot layout 1,2 title "$title"
set logscale xy
set grid xtics ytics mytics
set key top left
set xlabel 'clients'
set xtics (1, 4, 16, 64, 256, 1000)
set format y '%.0s%c'
set title 'throughput (higher is better)'
set ylabel 'acknowledged writes / s'
plot '$data' using 1:2 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'raftkv', \
     '$data' using 1:5 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'etcd'
set title 'latency (lower is better)'
set ylabel 'ms'
set format y '%g'
plot '$data' using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'raftkv p50', \
     '$data' using 1:4 with linespoints lw 2 dt 2 pt 6 lc rgb '#1f77b4' title 'raftkv p99', \
     '$data' using 1:6 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'etcd p50', \
     '$data' using 1:7 with linespoints lw 2 dt 2 pt 4 lc rgb '#d62728' title 'etcd p99'
unset multiplot
GP
