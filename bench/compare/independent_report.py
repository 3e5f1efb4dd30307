#!/usr/bin/env python3
"""Renders bench/independent.sh's records (one JSON object a line) as a markdown report.

    independent_report.py RUN.jsonl > RUN.md

Each goal of issue 20 §1 is a ratio of two systems' throughput: each side's best round (on a
shared machine interference only slows a run down), with every round's own ratio beside it.
"""

import json
import sys

# (goal, numerator (system, case), denominator (system, case), at least this ratio)
GOALS = [
    ("Writes, 256 clients: raftkv SET / etcd put", ("raftkv", "set-c256"),
     ("etcd", "put-c256"), 6.0),
    ("Writes, 1000 clients: raftkv SET / etcd put", ("raftkv", "set-c1000"),
     ("etcd", "put-c1000"), 8.0),
    ("Linearizable reads, 256 clients: raftkv GET / etcd range", ("raftkv", "get-c256"),
     ("etcd", "range-c256"), 6.0),
    ("Reads, 256 clients: raftkv GET / Redis plain GET", ("raftkv", "get-c256"),
     ("redis", "get-c256"), 0.7),
    ("SET -c 50: raftkv / Redis appendfsync always", ("raftkv", "set-c50"),
     ("redis-aof", "set-c50"), 0.5),
    ("GET -c 50: raftkv / Redis appendfsync always", ("raftkv", "get-c50"),
     ("redis-aof", "get-c50"), 0.5),
    ("SET -c 50 -P 16: raftkv / Redis appendfsync always", ("raftkv", "set-c50-P16"),
     ("redis-aof", "set-c50-P16"), 0.5),
    ("GET -c 50 -P 16: raftkv / Redis appendfsync always", ("raftkv", "get-c50-P16"),
     ("redis-aof", "get-c50-P16"), 0.5),
]

# What the same machine does with no consensus and no replication: a single Redis that syncs
# its log on every write batch, under the write goals' own client counts. Its ratio to etcd is
# the most a log-syncing server reaches here against etcd's (a goal above it asks for more
# than the physical reference); raftkv's ratio to it is the cost of three replicas on the same
# two cores. (numerator, denominator) as in GOALS.
REFERENCES = [
    ("Writes, 256 clients: Redis appendfsync always SET / etcd put", ("redis-aof", "set-c256"),
     ("etcd", "put-c256")),
    ("Writes, 1000 clients: Redis appendfsync always SET / etcd put",
     ("redis-aof", "set-c1000"), ("etcd", "put-c1000")),
    ("Writes, 256 clients: raftkv SET / Redis appendfsync always SET", ("raftkv", "set-c256"),
     ("redis-aof", "set-c256")),
    ("Writes, 1000 clients: raftkv SET / Redis appendfsync always SET",
     ("raftkv", "set-c1000"), ("redis-aof", "set-c1000")),
]


def by_round(records, system, case):
    """{round: record} of the successful runs of one case."""
    return {r["round"]: r for r in records
            if r.get("kind") == "case" and r["system"] == system and r["case"] == case
            and "rps" in r}


def best(runs):
    return max(runs.values(), key=lambda r: r["rps"]) if runs else None


def ratio(records, top, bottom):
    """(best ratio, each round's ratio as text, numerator best, denominator best), or None
    when either side has no result."""
    top_runs, bottom_runs = by_round(records, *top), by_round(records, *bottom)
    top_best, bottom_best = best(top_runs), best(bottom_runs)
    if not top_best or not bottom_best:
        return None
    per_round = ", ".join(f"{top_runs[n]['rps'] / bottom_runs[n]['rps']:.2f}×"
                          for n in sorted(top_runs) if n in bottom_runs)
    return (top_best["rps"] / bottom_best["rps"], per_round, f"{top_best['rps']:,.0f}/s",
            f"{bottom_best['rps']:,.0f}/s")


def goal_rows(records):
    yield "| goal | best ratio | target | met | per round | numerator best | denominator best |"
    yield "|---|---|---|---|---|---|---|"
    for name, top, bottom, target in GOALS:
        found = ratio(records, top, bottom)
        if not found:
            yield f"| {name} | no result | ≥ {target}× | — | | | |"
            continue
        value, per_round, top_best, bottom_best = found
        yield (f"| {name} | **{value:.2f}×** | ≥ {target}× | {'met' if value >= target else 'missed'}"
               f" | {per_round} | {top_best} | {bottom_best} |")


def reference_rows(records):
    yield "| ratio | best | per round | numerator best | denominator best |"
    yield "|---|---|---|---|---|"
    for name, top, bottom in REFERENCES:
        found = ratio(records, top, bottom)
        if found:
            value, per_round, top_best, bottom_best = found
            yield f"| {name} | **{value:.2f}×** | {per_round} | {top_best} | {bottom_best} |"


def case_rows(records):
    yield ("| system | case | requests | best req/s | every round | p50 ms | p99 ms "
           "| errors (etcd) or seconds with errors (redis-benchmark) |")
    yield "|---|---|---|---|---|---|---|---|"
    seen = dict.fromkeys((r["system"], r["case"]) for r in records if r.get("kind") == "case")
    for system, case in seen:
        runs = by_round(records, system, case)
        failed = [r for r in records if r.get("kind") == "case" and r["system"] == system
                  and r["case"] == case and "failed" in r]
        for r in failed:
            yield f"| {system} | {case} | | failed in round {r['round']}: {r['failed']} | | | | |"
        top = best(runs)
        if not top:
            continue
        every = ", ".join(f"{runs[n]['rps']:,.0f}" for n in sorted(runs))
        errors = sum(r.get("errors", r.get("error_seconds", 0)) for r in runs.values())
        yield (f"| {system} | {case} | {top['requests']:,} | {top['rps']:,.0f} | {every} "
               f"| {top['p50_ms']:.2f} | {top['p99_ms']:.2f} | {errors} |")


def notes(records):
    """Prefills that failed, and rounds in which a cluster's leader moved between cases."""
    for r in (r for r in records if r["kind"] == "prefill_failed"):
        yield f"- Round {r['round']}: the prefill of {r['system']} failed; its reads ran anyway."
    for system in ("raftkv", "etcd"):
        for round_ in sorted({r["round"] for r in records if r.get("kind") == "case"}):
            ports = [r.get("port") for r in records if r.get("kind") == "case"
                     and r["system"] == system and r["round"] == round_]
            if len(set(ports)) > 1:
                yield (f"- Round {round_}: {system}'s leader moved during the turn "
                       f"(leader ports per case: {', '.join(map(str, ports))}).")
    yield ("- redis-benchmark counts an error reply as a request done and prints at most one "
           "a second: a case with seconds with errors overstates its throughput.")


def main():
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next(r for r in records if r["kind"] == "machine")
    wall = next((r["seconds"] for r in records if r["kind"] == "wall"), None)
    print("# raftkv, etcd and Redis with their own load tools (issue 20)\n")
    print(f"Commit {machine['commit']}, {machine['cores']} cores ({machine['cpu']}), "
          f"etcd {machine['etcd']}, Redis {machine['redis']}, {machine['rounds']} rounds, "
          f"--scale {machine['scale']}, ulimit -n {machine['ulimit_n']}"
          + (f", {wall} s in all." if wall else "."))
    print("raftkv and etcd: fresh 3-node clusters on loopback, the load on the leader; Redis: "
          "one fresh redis-server. One system at a time; 16-byte keys, 256-byte values. "
          "Ratios are throughput, > 1 means raftkv is faster; each side's best round, and "
          "each round's own ratio.\n")
    print("## Goals\n")
    print("\n".join(goal_rows(records)))
    print("\n## The physical reference for the write goals\n")
    print("A single Redis with `appendfsync always` (no consensus, no replication) under the "
          "same clients: how far a server that syncs its log gets on this machine.\n")
    print("\n".join(reference_rows(records)))
    print("\n## Every case\n")
    print("\n".join(case_rows(records)))
    print("\n" + "\n".join(notes(records)))
    print("\n## Machine load and disk\n")
    print("| round | system | load at start | load at end |")
    print("|---|---|---|---|")
    loads = [r for r in records if r["kind"] == "load"]
    for start in (r for r in loads if r["at"] == "start"):
        end = next((r["loadavg"] for r in loads if r["at"] == "end"
                    and r["round"] == start["round"] and r["system"] == start["system"]), "")
        print(f"| {start['round']} | {start['system']} | {start['loadavg']} | {end} |")
    print("\nfio, 4 KiB write + fdatasync, queue depth 1, 3 s:\n")
    print("| after | IOPS | fdatasync p50 µs | p99 µs |")
    print("|---|---|---|---|")
    for r in (r for r in records if r["kind"] == "fio"):
        print(f"| {r['after']} | {r['iops']:,} | {r['p50_us']} | {r['p99_us']} |")
    print("\n## Commands\n")
    print("Reproduce with `bench/independent.sh` (see bench/README.md). Each case ran:\n")
    commands = dict.fromkeys((r["system"], r["case"], r["command"], r["requests"])
                             for r in records if r.get("kind") == "case")
    for system, case, command, requests in commands:
        total = f" --total {requests}" if system == "etcd" else f" -n {requests}"
        print(f"- {system} {case}: `{command}{total}`")
    print("\nredis-benchmark's `-r N` picks keys `key:<12 digits>` (16 bytes) among N; the "
          f"read cases use {machine['read_keys']:,} keys prefilled through `redis-cli --pipe`"
          " (raftkv, Redis) or `etcd_load put --sequential-keys` (etcd).")


if __name__ == "__main__":
    main()
