#!/usr/bin/python3 -B
"""Large values against a running 3-node raftkv cluster: what one client writing big values
does to the cluster (elections, ambiguous replies) and to other clients (their p99).

For each value size and each path (straight to the leader, or through a follower, which
forwards), a writer sends values of that size one after another and reads each back, for as
long as `redis-benchmark -c 50 -d 256 -t set` writes small values through the leader (and at
least `--writes` of them). The
same benchmark alone, first, gives the baseline p99. Prints one JSON object per case:
  {"size_mib", "path", "writes", "ok", "tryagain", "uncertain", "other_errors",
   "elections" (terms the leader's term moved by), "p50_ms", "max_ms", "mib_per_s",
   "others_p99_ms", "baseline_p99_ms", "read_back_ok"}
With --throughput-clients N, only N writers to the leader, nothing else (run_throughput), and
what each write cost each node: CPU milliseconds and minor page faults.
Used by bench/large_values.sh; needs Debian's python3-redis and redis-tools.
"""
import argparse
import json
import re
import subprocess
import sys
import threading
import time

import redis


def info(port):
    text = redis.Redis(port=port, socket_timeout=10).execute_command("INFO")
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):  # redis-py may parse INFO itself.
        return {k: str(v) for k, v in text.items()}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def leader_and_follower(ports):
    for port in ports:
        fields = info(port)
        if fields.get("role") == "leader":
            return port, next(p for p in ports if p != port)
    raise SystemExit("no leader")


def start_benchmark(port, seconds):
    # 50 connections of 256-byte SETs for about `seconds`; the summary carries the p99.
    requests = 2000 * seconds
    return subprocess.Popen(
        ["redis-benchmark", "-p", str(port), "-c", "50", "-d", "256", "-t", "set",
         "-n", str(requests), "-r", "100000", "--precision", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def benchmark_p99(process):
    out, _ = process.communicate(timeout=600)
    # The "latency summary (msec)" table: avg min p50 p95 p99 max.
    number = r"\s+([0-9.]+)"
    table = re.findall(r"\n\s*([0-9.]+)" + number * 5, out)
    return float(table[-1][4]) if table else None


def run_case(size, path_port, leader_port, writes, bench_seconds, baseline):
    client = redis.Redis(port=path_port, socket_timeout=120)
    term_before = int(info(leader_port).get("term", 0))
    bench = start_benchmark(leader_port, bench_seconds)
    counts = {"ok": 0, "tryagain": 0, "uncertain": 0, "other_errors": 0}
    latencies = []
    read_back_ok = True
    started = time.monotonic()
    # Writes go on for as long as the benchmark runs (at least `writes` of them), so its p99
    # covers only time with large writes in flight.
    i = 0
    while i < writes or bench.poll() is None:
        i += 1
        value = (b"%08d" % i) * (size // 8)
        key = "big-%d-%d" % (size, i)
        t0 = time.monotonic()
        try:
            client.set(key, value)
            counts["ok"] += 1
            latencies.append(time.monotonic() - t0)
            read_back_ok &= client.get(key) == value
        except redis.exceptions.ResponseError as error:
            code = str(error).split(" ", 1)[0]
            counts["tryagain" if code == "TRYAGAIN" else
                   "uncertain" if code == "UNCERTAIN" else "other_errors"] += 1
        except redis.exceptions.RedisError:
            counts["other_errors"] += 1
    elapsed = time.monotonic() - started
    others_p99 = benchmark_p99(bench)
    term_after = max(int(info(p).get("term", 0)) for p in (leader_port, path_port))
    latencies.sort()
    return dict(size_mib=size / (1 << 20), writes=i, **counts,
                elections=term_after - term_before,
                p50_ms=round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
                max_ms=round(1000 * latencies[-1], 1) if latencies else None,
                mib_per_s=round(counts["ok"] * size / (1 << 20) / elapsed, 1),
                others_p99_ms=others_p99, baseline_p99_ms=baseline,
                read_back_ok=read_back_ok)


def node_costs(ports):
    # Per node: CPU seconds (INFO's used_cpu_*) and minor page faults (/proc: the nodes run
    # on this machine), to report what each write cost every node.
    costs = {}
    for port in ports:
        fields = info(port)
        with open("/proc/%s/stat" % fields["process_id"]) as stat:
            minor_faults = int(stat.read().rsplit(")", 1)[1].split()[7])
        costs[port] = (float(fields["used_cpu_sys"]) + float(fields["used_cpu_user"]),
                       minor_faults, fields.get("role"))
    return costs


def run_throughput(size, leader_port, ports, writes, clients, keys):
    # Only large writes, straight to the leader, from `clients` connections at once, each
    # sending `writes` values back to back: the rate the cluster replicates them at, for the
    # comparison with the disk's (fio). Nothing is read back, nothing else runs.
    value = b"v" * size
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def writer(number):
        client = redis.Redis(port=leader_port, socket_timeout=120)
        for i in range(writes):
            try:
                client.set("tp-%d-%d" % (number, i % keys if keys else i), value)
                outcome = "ok"
            except redis.exceptions.RedisError:
                outcome = "failed"
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(clients)]
    before = node_costs(ports)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = node_costs(ports)
    done = max(counts["ok"], 1)
    per_write = [dict(role=after[p][2],
                      cpu_ms=round(1000 * (after[p][0] - before[p][0]) / done, 1),
                      minor_faults=(after[p][1] - before[p][1]) // done) for p in ports]
    return dict(case="throughput", size_mib=size / (1 << 20), clients=clients, **counts,
                seconds=round(elapsed, 2),
                mib_per_s=round(counts["ok"] * size / (1 << 20) / elapsed, 1),
                per_write_per_node=per_write)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True, help="client ports, comma-separated")
    parser.add_argument("--sizes-mib", default="1,4,16,64")
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--bench-seconds", type=int, default=5)
    parser.add_argument("--throughput-clients", type=int, default=0,
                        help="only measure throughput, with this many writers")
    parser.add_argument("--keys", type=int, default=0,
                        help="throughput: each writer rewrites this many keys (0: a new key "
                             "per write), so the state stops growing, as in steady state")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    leader, follower = leader_and_follower(ports)
    if args.throughput_clients > 0:
        for size_mib in [float(s) for s in args.sizes_mib.split(",")]:
            result = run_throughput(int(size_mib * (1 << 20)), leader, ports, args.writes,
                                    args.throughput_clients, args.keys)
            print(json.dumps(result), flush=True)
        return 0
    baseline = benchmark_p99(start_benchmark(leader, args.bench_seconds))
    for size_mib in [float(s) for s in args.sizes_mib.split(",")]:
        size = int(size_mib * (1 << 20))
        for path, port in (("leader", leader), ("follower", follower)):
            leader, follower = leader_and_follower(ports)  # Follow a change of leader.
            port = leader if path == "leader" else follower
            result = run_case(size, port, leader, args.writes, args.bench_seconds, baseline)
            result["path"] = path
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
