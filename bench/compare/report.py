#!/usr/bin/env python3
"""Renders bench/compare.sh's JSON lines as the Markdown report (on stdout).

    report.py RESULTS.jsonl > RESULTS.md

Each line of the input is an object with a "kind": machine (facts at the start and end),
config, fio (disk, at the start and end), floor (replication_floor's JSON as "result", beside
each fio), bench (one raftkv-bench run, its JSON plus system and workload), redis_benchmark,
rss, failed, wall. Reading it needs nothing but the standard library, so a report can be
re-rendered from the .jsonl alone.
"""

import json
import statistics
import sys

SYSTEMS = ("raftkv", "etcd")
READ_WORKLOADS = (
    ("linearizable", "Linearizable reads",
     "raftkv: GET (ReadIndex: the leader confirms its leadership with a quorum, one round "
     "shared by the reads that arrive together); etcd: Range, linearizable (also ReadIndex)."),
    ("serializable", "Serializable reads",
     "raftkv: GET on connections that sent READONLY (served from the node's own state, no "
     "quorum round); etcd: Range with serializable=true. Both served by the leader here."),
)


def load(path):
    records = {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if line:
                record = json.loads(line)
                records.setdefault(record["kind"], []).append(record)
    return records


def number(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def ms(value):
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def best(records, field):
    return max(records, key=lambda record: record.get(field) or 0)


def each_round(records, field, show):
    """'a · b' in round order, or '' for a single round."""
    if len(records) < 2:
        return ""
    ordered = sorted(records, key=lambda record: record.get("round", 1))
    return " · ".join(show(record.get(field)) for record in ordered)


def times(value):
    return "–" if value is None else f"{value:.2f}×"


class Report:
    def __init__(self, records):
        self.records = records
        self.config = (records.get("config") or [{}])[0]
        # Every round of a case, and the best one (highest throughput): on a shared machine
        # interference only slows a run down, so the best round is the least disturbed.
        self.rounds = {}
        for record in records.get("bench", []):
            self.rounds.setdefault((record["system"], record["label"]), []).append(record)
        self.bench = {key: best(rounds, "throughput") for key, rounds in self.rounds.items()}
        self.redis_rounds = {}
        for record in records.get("redis_benchmark", []):
            self.redis_rounds.setdefault((record["label"], record["test"]), []).append(record)
        self.out = []

    def line(self, text=""):
        self.out.append(text)

    def get(self, system, label, field):
        record = self.bench.get((system, label))
        return None if record is None else record.get(field)

    def at_phase(self, kind, phase):
        """The record of `kind` (fio, floor) measured at `phase`, or None."""
        for record in self.records.get(kind, []):
            if record["phase"] == phase:
                return record
        return None

    def around_raftkv(self, kind, round_):
        """The records of `kind` (fio, floor) measured just before and after raftkv's turn in
        that round (older files name those phases start and between)."""
        before = "start" if round_ == 1 else f"etcd-{round_ - 1}"
        phases = (before, f"raftkv-{round_}", "between")
        return [r for r in self.records.get(kind, []) if r["phase"] in phases]

    def fio_p50_us(self, round_):
        values = [r["p50_us"] for r in self.around_raftkv("fio", round_)]
        return statistics.mean(values) if values else None

    def floor(self, round_, field):
        """Mean `field` of the replication floor runs around raftkv's turn (None if absent)."""
        values = [r["result"][field] for r in self.around_raftkv("floor", round_)]
        return statistics.mean(values) if values else None

    def failover_records(self, system):
        rounds = [r for (s, _), r in self.bench.items()
                  if s == system and r.get("workload") == "failover"]
        return sorted(rounds, key=lambda r: int(r["label"].rsplit("-", 1)[-1]))

    def failover_ms(self, system):
        return [r["max_ack_gap_ms"] for r in self.failover_records(system)]

    def redis(self, label, test):
        rounds = self.redis_rounds.get((label, test))
        return best(rounds, "rps") if rounds else None

    # --- Sections. ------------------------------------------------------------------------
    def header(self):
        machine = {r["phase"]: r for r in self.records.get("machine", [])}
        start, end = machine.get("start", {}), machine.get("end", {})
        wall = (self.records.get("wall") or [{}])[0].get("seconds")
        self.line(f"# raftkv vs etcd, {start.get('date', '?')}")
        self.line()
        self.line("Written by `bench/compare.sh` (see bench/README.md); raw data in the `.jsonl` "
                  "beside this file. Both systems: 3 nodes on loopback on this one machine, data "
                  "on the same disk, heartbeat 100 ms, election timeout 1000 ms (etcd's "
                  "defaults; both randomize it up to 2×), every acknowledged write fsynced on a "
                  "quorum. One system runs at a time. The same load generator (`raftkv-bench`) "
                  "with the same flags drives both, talking to the leader (RESP for raftkv, "
                  "gRPC for etcd), "
                  f"{self.config.get('key_size', '?')}-byte keys, "
                  f"{self.config.get('value_size', '?')}-byte values, "
                  f"{self.config.get('seconds', '?')} s measured per case after "
                  f"{self.config.get('warmup', '?')} s of warmup; at most "
                  f"{self.config.get('connections_max', '?')} connections, more clients share "
                  "them (pipelined over RESP, multiplexed gRPC streams for etcd).")
        self.line()
        rounds = self.config.get("rounds", 1)
        if rounds > 1:
            self.line(f"**Rounds:** every throughput case ran {rounds} times per system, the "
                      "systems taking turns (raftkv, etcd, raftkv, ...), each turn on fresh "
                      "clusters. A table shows each system's best round, the least disturbed by "
                      "the rest of this shared machine, and lists every round's ops/s below it. "
                      "Failovers and memory come from the last round.")
            self.line()
        self.line("**Ratios:** throughput ratio = raftkv / etcd; latency ratio = etcd / raftkv. "
                  "In both, **> 1 means raftkv is better**.")
        self.line()
        self.line("## Machine")
        self.line()
        self.line("| fact | value |")
        self.line("|---|---|")
        rows = [
            ("date (start → end)", f"{start.get('date', '?')} → {end.get('date', '?')}"),
            ("wall time", f"{wall} s" if wall is not None else "?"),
            ("cores", start.get("nproc")),
            ("cpu", start.get("cpu")),
            ("memory", start.get("mem_total")),
            ("kernel", start.get("kernel")),
            ("file system of the data", start.get("filesystem")),
            ("disk free (start → end)",
             f"{start.get('disk_free', '?')} → {end.get('disk_free', '?')}"),
            ("load average 1/5/15 min (start → end)",
             f"{start.get('loadavg', '?')} → {end.get('loadavg', '?')}"),
            ("git commit", f"{start.get('commit', '?')} "
                           f"({start.get('dirty', '?')} modified in the working tree)"),
            ("etcd", start.get("etcd_version")),
        ]
        for name, value in rows:
            self.line(f"| {name} | {value} |")
        self.line()
        loads = [float(m["loadavg"].split()[0]) for m in (start, end) if m.get("loadavg")]
        cores = start.get("nproc") or 1
        if loads and max(loads) > 0.5 * cores:
            self.line(f"**The machine was busy:** 1-minute load average up to {max(loads):.1f} "
                      f"on {cores} cores at the start or end of the run; other work competed "
                      "with the systems under test for CPU and disk.")
            self.line()

    def disk(self):
        self.line("## Disk: fio, 4 KiB write + fdatasync, queue depth 1")
        self.line()
        self.line("| when | IOPS | fdatasync p50 µs | fdatasync p99 µs | floor p50 ms "
                  "| floor writes/s |")
        self.line("|---|---|---|---|---|---|")
        names = {"start": "start (before raftkv)", "between": "between raftkv and etcd",
                 "end": "end (after etcd)"}
        for record in self.records.get("fio", []):
            phase = record["phase"]
            system, _, round_ = phase.partition("-")
            name = names.get(phase, f"after {system}, round {round_}")
            floor = (self.at_phase("floor", phase) or {}).get("result", {})
            self.line(f"| {name} | {number(record['iops'])} "
                      f"| {number(record['p50_us'])} | {number(record['p99_us'])} "
                      f"| {ms(floor.get('p50_ms'))} | {number(floor.get('throughput'))} |")
        self.line()
        if self.records.get("floor"):
            self.line("The floor is `replication_floor` (bench/floor/), run right after each fio: "
                      "four processes on loopback, a client and three nodes, one write at a "
                      "time; the leader sends it to both followers, each node writes 300 bytes "
                      "and fdatasyncs its own file, and the leader replies after its own sync "
                      "and one follower's ack. That is every step a replicated write must take "
                      "and nothing else (no Raft, encoding, batching or event loop), so no "
                      "implementation's 1-client latency or throughput can beat it here.")
            self.line()
        p50s = [r["p50_us"] for r in self.records.get("fio", []) if r["p50_us"] > 0]
        if p50s and max(p50s) > 2 * min(p50s):
            self.line(f"**The disk drifted:** fdatasync p50 ranged {number(min(p50s))}–"
                      f"{number(max(p50s))} µs ({max(p50s) / min(p50s):.1f}×) during the run. "
                      "The two systems ran minutes apart, so their ratios carry that drift; "
                      "rerun on a quiet machine before trusting them.")
            self.line()

    def targets(self):
        self.line("## Targets")
        self.line()
        self.line("| target | measured | verdict |")
        self.line("|---|---|---|")

        def verdict(ok):
            return "–" if ok is None else ("**met**" if ok else "**missed**")

        for clients in (256, 1000):
            label = f"write-c{clients}"
            r, e = self.get("raftkv", label, "throughput"), self.get("etcd", label, "throughput")
            x = ratio(r, e)
            self.line(f"| writes, {clients} clients: raftkv ≥ 5× etcd | {number(r)} vs "
                      f"{number(e)} ops/s = {times(x)} "
                      f"| {verdict(None if x is None else x >= 5)} |")
        p50 = self.get("raftkv", "write-c1", "p50_ms")
        round_ = self.get("raftkv", "write-c1", "round") or 1
        fio = self.fio_p50_us(round_)
        bound = None if fio is None else 2 * fio / 1000
        floor_p50 = self.floor(round_, "p50_ms")
        floor_note = "" if floor_p50 is None else (
            f"; the floor: {ms(floor_p50)} ms, raftkv {times(ratio(p50, floor_p50))} it")
        self.line(f"| writes, 1 client: raftkv p50 ≤ 2× fio fdatasync p50 | {ms(p50)} ms vs "
                  f"2 × {number(fio)} µs (fio before and after raftkv) = {ms(bound)} ms"
                  f"{floor_note} | "
                  f"{verdict(None if p50 is None or bound is None else p50 <= bound)} |")
        r = self.get("raftkv", "write-c1", "throughput")
        e = self.get("etcd", "write-c1", "throughput")
        x = ratio(r, e)
        floor_ops = self.floor(round_, "throughput")
        floor_note = "" if floor_ops is None else (
            f"; the floor: {number(floor_ops)} ops/s = {times(ratio(floor_ops, e))} etcd")
        self.line(f"| writes, 1 client: raftkv ≥ 4× etcd | {number(r)} vs {number(e)} ops/s = "
                  f"{times(x)}{floor_note} | {verdict(None if x is None else x >= 4)} |")
        label = "read-linearizable-c256"
        r, e = self.get("raftkv", label, "throughput"), self.get("etcd", label, "throughput")
        x = ratio(r, e)
        self.line(f"| linearizable reads, 256 clients: raftkv ≥ 10× etcd | {number(r)} vs "
                  f"{number(e)} ops/s = {times(x)} | {verdict(None if x is None else x >= 10)} |")
        record = self.redis("c50-P16", "SET")
        rps = None if record is None else record["rps"]
        self.line(f"| redis-benchmark -c 50 -P 16 SET ≥ 100,000/s | {number(rps)} /s | "
                  f"{verdict(None if rps is None else rps >= 100_000)} |")
        election = self.config.get("election_ms", 1000)
        r, e = self.failover_ms("raftkv"), self.failover_ms("etcd")
        rm = statistics.median(r) if r else None
        em = statistics.median(e) if e else None
        ok = None if rm is None or em is None else rm <= 1.5 * election and rm <= em
        self.line(f"| failover median ≤ 1.5 × election timeout ({number(1.5 * election)} ms) "
                  f"and ≤ etcd's | {number(rm)} ms vs etcd {number(em)} ms | {verdict(ok)} |")
        self.line()

    def workload_table(self, title, labels, note=""):
        self.line(f"## {title}")
        self.line()
        if note:
            self.line(note)
            self.line()
        self.line("| clients (connections) | metric | raftkv | etcd | ratio |")
        self.line("|---|---|---|---|---|")
        for label in labels:
            record = self.bench.get(("raftkv", label)) or self.bench.get(("etcd", label))
            if record is None:
                self.line(f"| {label} | – | not measured | not measured | – |")
                continue
            who = f"{record['clients']} ({record['connections']})"
            r = lambda field: self.get("raftkv", label, field)  # noqa: E731
            e = lambda field: self.get("etcd", label, field)  # noqa: E731
            self.line(f"| {who} | ops/s | {number(r('throughput'))} | {number(e('throughput'))} "
                      f"| {times(ratio(r('throughput'), e('throughput')))} |")
            for field, name in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms")):
                self.line(f"| | {name} | {ms(r(field))} | {ms(e(field))} "
                          f"| {times(ratio(e(field), r(field)))} |")
            self.line(f"| | errors / retries | {r('errors')} / {r('retries')} "
                      f"| {e('errors')} / {e('retries')} | |")
            rounds = [each_round(self.rounds.get((system, label), []), "throughput", number)
                      for system in SYSTEMS]
            if any(rounds):
                self.line(f"| | ops/s, each round | {rounds[0] or '–'} | {rounds[1] or '–'} | |")
        self.line()

    def redis_benchmark(self):
        self.line("## redis-benchmark against raftkv (raftkv only)")
        self.line()
        self.line("`redis-benchmark -t set,get -d 256 -c 50 -n REQUESTS [-P 16]` against the "
                  "leader (GET is a linearizable read; all requests use one key).")
        self.line()
        self.line("| case | test | requests | requests/s (best round) | p50 ms | p99 ms "
                  "| requests/s, each round |")
        self.line("|---|---|---|---|---|---|---|")
        for (label, test), rounds in self.redis_rounds.items():
            record = best(rounds, "rps")
            case = "-c 50 -P 16" if label.endswith("P16") else "-c 50"
            requests = number(record["requests"]) if "requests" in record else "100,000"
            self.line(f"| {case} | {test} | {requests} | {number(record['rps'])} "
                      f"| {ms(record['p50_ms'])} | {ms(record['p99_ms'])} "
                      f"| {each_round(rounds, 'rps', number) or '–'} |")
        self.line()

    def failover(self):
        election = self.config.get("election_ms", 1000)
        self.line("## Failover: kill -9 of the leader to the first acknowledged write")
        self.line()
        self.line(f"4 clients at 200 writes/s in total; about 4 s in, the leader is killed with "
                  f"SIGKILL. The figure is raftkv-bench's `max_ack_gap_ms`: the longest time "
                  f"without an acknowledged write, i.e. detection + election + the client "
                  f"reaching the new leader. Election timeout for reference: {election} ms "
                  f"(randomized to {election}–{2 * election} ms in both systems). The killed "
                  f"node is restarted and the cluster is whole again before the next round. "
                  f"Lower is better; ratio = etcd / raftkv.")
        self.line()
        self.line(f"etcd: a write that reaches a follower while it still takes the dead node "
                  f"for leader is forwarded there and answered only by etcd's request timeout, "
                  f"5 s + 2 × election timeout = {5000 + 2 * election:,} ms (etcdserver "
                  f"`ReqTimeout`, error `etcdserver: request timed out`); raftkv-bench waits for "
                  f"that answer (its `--timeout-ms` is 10 s for both systems). An etcd figure "
                  f"near {5000 + 2 * election:,} ms is that timeout, not the election.")
        self.line()
        self.line("| round | raftkv ms (node killed) | etcd ms (node killed) | ratio |")
        self.line("|---|---|---|---|")
        rr, er = self.failover_records("raftkv"), self.failover_records("etcd")

        def cell(rounds, i):
            if i >= len(rounds):
                return None, "–"
            gap = rounds[i]["max_ack_gap_ms"]
            return gap, f"{number(gap)} ({rounds[i].get('killed_node', '?')})"

        for i in range(max(len(rr), len(er))):
            a, a_text = cell(rr, i)
            b, b_text = cell(er, i)
            self.line(f"| {i + 1} | {a_text} | {b_text} | {times(ratio(b, a))} |")
        r, e = self.failover_ms("raftkv"), self.failover_ms("etcd")
        rm = statistics.median(r) if r else None
        em = statistics.median(e) if e else None
        self.line(f"| **median** | **{number(rm)}** | **{number(em)}** | {times(ratio(em, rm))} |")
        errors = {s: sum(v.get("errors", 0) for k, v in self.bench.items()
                         if k[0] == s and v.get("workload") == "failover") for s in SYSTEMS}
        self.line()
        self.line(f"Errors reported during the failover runs: raftkv {errors['raftkv']}, "
                  f"etcd {errors['etcd']}.")
        self.line()

    def memory(self):
        self.line("## Memory (resident set per node)")
        self.line()
        self.line("Sampled from /proc/PID/status after the write and read cases (before the "
                  "failovers, which restart nodes). VmHWM is the peak, VmRSS the current. "
                  "Ratio = etcd / raftkv (> 1: raftkv uses less).")
        self.line()
        self.line("| node | raftkv VmHWM MiB | raftkv VmRSS MiB | etcd VmHWM MiB "
                  "| etcd VmRSS MiB |")
        self.line("|---|---|---|---|---|")
        rss = {(r["system"], r["node"]): r for r in self.records.get("rss", [])}
        totals = {s: [0, 0] for s in SYSTEMS}
        for node in (1, 2, 3):
            cells = []
            for system in SYSTEMS:
                record = rss.get((system, node))
                if record is None:
                    cells += ["–", "–"]
                    continue
                totals[system][0] += record["hwm_kb"]
                totals[system][1] += record["rss_kb"]
                cells += [number(record["hwm_kb"] / 1024, 1), number(record["rss_kb"] / 1024, 1)]
            self.line(f"| {node} | " + " | ".join(cells) + " |")
        cells = []
        for system in SYSTEMS:
            cells += [f"**{number(totals[system][0] / 1024, 1)}**",
                      f"**{number(totals[system][1] / 1024, 1)}**"]
        self.line("| **sum** | " + " | ".join(cells) + " |")
        self.line()
        self.line(f"Peak ratio (sum of VmHWM): "
                  f"{times(ratio(totals['etcd'][0], totals['raftkv'][0]))}.")
        self.line()

    def failures(self):
        failed = self.records.get("failed", [])
        if not failed:
            return
        self.line("## Failures")
        self.line()
        for record in failed:
            round_ = f" (round {record['round']})" if "round" in record else ""
            self.line(f"- {record['system']} {record['label']}{round_}: {record['reason']}")
        self.line()

    def render(self):
        self.header()
        self.targets()
        self.disk()
        writes = [f"write-c{c}" for c in (1, 16, 64, 256, 1000)]
        self.workload_table("Writes (fresh distinct keys)", writes)
        keys = self.config.get("read_keys", 0)
        for mode, title, how in READ_WORKLOADS:
            self.workload_table(title, [f"read-{mode}-c{c}" for c in (1, 256)],
                                f"Reads of {keys:,} prefilled keys chosen at random. {how}")
        self.redis_benchmark()
        self.failover()
        self.memory()
        self.failures()
        return "\n".join(self.out)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(Report(load(sys.argv[1])).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
