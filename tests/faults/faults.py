"""The fault suite's orchestrator (run it through run.sh, which checks root and the tools and
cleans up after it whatever happens). See README.md.

Creates the run's namespaces, moves itself into the client namespace, starts a server and a
frame proxy per node, runs the workload while the schedule's faults come and go, heals, waits
for the nodes to agree, reads every node's final state, and checks the history.
Exit: 0 passed, 1 a check failed, 2 the suite itself failed.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import threading
import time

import checks
import expiry
import lock
import netns
import schedule
from cluster import Cluster
from workload import Workload, now_us

OPTIONAL_WORKLOADS = ("ttl", "lock")
TTL_CLIENTS = 2
LOCK_CLIENTS = 3
# A client thread that dies of an exception would only make the workload smaller, silently:
# threading.excepthook (set in main) names it here, and the run fails as a suite error.
CRASHED_THREADS = []
SPARE_HOSTS = 1  # Where member-replace starts the fresh node; the replaced one's host is next.
# A disk stall on one node must not stop the clients: a leader answers on its followers'
# copies once its sync is slow (src/runtime/node.cc). Measured with tests/faults' disk-stall of
# the leader, five 4 s stalls: 387-723 operations a second during them; before 5d95096, 0-2.
STALL_OPS_PER_S_MIN = 20


class Engine(threading.Thread):
    """Runs the schedule's faults one after another, each undone when its time is up."""

    def __init__(self, entries, ctx, log):
        super().__init__(name="faults", daemon=True)
        self.entries = entries
        self.ctx = ctx
        self.log = log
        self.stopping = threading.Event()
        self.ran = {}
        self.skipped = {}
        self.windows = []  # (kind, start_us, end_us) of every fault that ran.
        self.error = None
        self.start_s = time.monotonic()

    def run(self):
        try:
            for entry in self.entries:
                if self.stopping.wait(max(0.0, self.start_s + entry.at_s - time.monotonic())):
                    return
                self.one(entry)
        except Exception as error:  # Reported by the main thread: the suite failed.
            self.error = f"{type(error).__name__}: {error}"
            self.log(f"fault engine failed: {self.error}")
            self.log(f"      nodes now: {self.ctx.cluster.states()}")
            for node_id, lines in self.ctx.cluster.warnings(5).items():
                self.log(f"      node {node_id}'s last warnings:\n{lines}")

    def one(self, entry):
        self.ctx.duration_s = entry.duration_s
        try:
            what, undo = schedule.KINDS[entry.kind](self.ctx, entry.params)
        except schedule.Skip as why:
            self.skipped[entry.kind] = str(why)
            self.log(f"skip {entry.kind}: {why}")
            return
        self.ran[entry.kind] = self.ran.get(entry.kind, 0) + 1
        self.log(f"start {what} for {entry.duration_s:g} s")
        start_us = now_us()
        self.stopping.wait(entry.duration_s)
        self.windows.append((entry.kind, start_us, now_us()))
        self.log(f"      leader before healing: node {self.ctx.cluster.leader()} "
                 f"({self.ctx.cluster.states()})")
        undo()
        self.log(f"end   {entry.kind}")


class Run:
    def __init__(self, args):
        self.args = args
        self.layout = netns.Layout(args.run_id, args.nodes, SPARE_HOSTS)
        self.results = os.path.join(os.path.abspath(args.results), args.run_id)
        self.work = args.work
        self.history_path = os.path.join(self.results, "history.jsonl")
        self.started = time.monotonic()
        self.started_us = now_us()
        self.events = None
        self.engine = None
        self.workload = None
        self.ttl = None
        self.locks = None
        self.summary = {"seed": args.seed, "nodes": args.nodes, "minutes": args.minutes,
                        "break": args.break_mode, "results": self.results}

    def log(self, text):
        line = f"[{time.monotonic() - self.started:7.1f}s] {text}"
        print(line, flush=True)
        if self.events:
            self.events.write(line + "\n")
            self.events.flush()

    def schedule(self):
        seconds = self.args.minutes * 60
        if self.args.schedule:
            with open(self.args.schedule) as file:
                return schedule.parse(file.read())
        return schedule.generate(self.args.seed, seconds, self.args.nodes)

    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        self.events = open(os.path.join(self.results, "faults.log"), "w")
        netns.create(self.layout)
        netns.enter(self.layout.client_ns)
        self.cluster = Cluster(self.layout, [self.args.server] + self.args.server_arg, self.work,
                               self.results, self.args.seed, self.args.lazyfs)
        for host in self.layout.hosts:
            self.cluster.prepare_host(host)
        for node in self.layout.nodes:
            self.cluster.start(node)
        deadline = time.monotonic() + 30
        while (leader := self.cluster.leader()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no leader within 30 s of starting the cluster")
            time.sleep(0.2)
        self.log(f"cluster of {self.args.nodes} up in namespaces {netns.prefix(self.args.run_id)}*"
                 f" ({netns.SUBNET_PREFIX}0/24), leader node {leader}, {SPARE_HOSTS} spare "
                 f"host(s); data dirs on {'lazyfs' if self.args.lazyfs else 'the plain disk'}")

    def exercise(self, entries):
        seconds = self.args.minutes * 60
        self.workload = workload = Workload(
            self.layout, self.history_path, self.args.seed, self.args.clients,
            self.args.break_mode == "stale-reads", self.args.think_ms / 1000)
        if "ttl" in self.args.workloads:
            self.ttl = expiry.TtlWorkload(workload, os.path.join(self.results, "ttl.jsonl"),
                                          TTL_CLIENTS)
        if "lock" in self.args.workloads:
            self.locks = lock.LockWorkload(self.layout, self.results, self.args.seed,
                                           LOCK_CLIENTS)
            self.locks.start(seconds)
        ctx = schedule.Context(self.cluster, random.Random(self.args.seed), self.locks, self.log)
        self.engine = engine = Engine(entries, ctx, self.log)
        workload.start()
        if self.ttl:
            self.ttl.start()
        engine.start_s = workload.start_s
        engine.start()
        self.log(f"workload: {self.args.clients} clients for {self.args.minutes:g} min, "
                 f"optional: {','.join(self.args.workloads) or 'none'}")
        time.sleep(seconds)
        engine.stopping.set()
        engine.join()
        workload.stop()
        workload.history.close()
        if self.ttl:
            self.ttl.stop()
        if self.locks:
            self.locks.stop()
        if engine.error:
            raise RuntimeError(engine.error)
        if CRASHED_THREADS:
            raise RuntimeError(f"client threads crashed: {', '.join(CRASHED_THREADS)}")
        self.log(f"workload done: {workload.history.counts}")
        return workload.history.keys

    def verify(self, keys):
        """Heals, then every check; returns the list of problems (empty: passed)."""
        exits = self.cluster.unexpected_exits()
        proxied = self.cluster.heal()
        self.summary["proxy"] = proxied
        self.log(f"healed: every fault off, every node running; frame proxies: {proxied}")
        agreed, seen = checks.converge(self.cluster, self.args.converge_s)
        self.log(f"nodes: {checks.describe_nodes(seen)}")
        self.summary["members"] = {n: f"host {node.host}" for n, node in
                                   sorted(self.cluster.nodes.items())}
        exits += self.cluster.unexpected_exits()
        if not agreed:
            return exits + [f"nodes did not converge within {self.args.converge_s} s"]
        state = checks.final_state(self.cluster, keys)
        checks.append_finals(self.history_path, state)
        ops = [op for op in checks.read_history(self.history_path) if "f" in op]
        differences = checks.compare_nodes(state)
        append_problems, appends = checks.check_appends(ops, next(iter(state.values())))
        self.log(f"final state: {len(keys)} keys on {len(state)} nodes, "
                 f"{'DIFFERENT' if differences else 'same everywhere'}; {appends} appends "
                 f"checked, {len(append_problems)} wrong")
        self.summary["operations"] = len(ops)
        return exits + differences + append_problems + self.availability(ops) + self.expiry() + \
            self.fencing() + self.linearizability()

    def availability(self, ops):
        """Operations done while one node's disk stalled: STALL_OPS_PER_S_MIN says why."""
        problems = []
        for kind, start_us, end_us in self.engine.windows if self.engine else []:
            if kind != "disk-stall":
                continue
            done = checks.done_within(ops, start_us, end_us)
            rate = done / max(1e-6, (end_us - start_us) / 1e6)
            self.log(f"disk stall at {(start_us - self.started_us) / 1e6:.1f}s: {done} operations "
                     f"done within it, {rate:.0f} a second")
            if rate < STALL_OPS_PER_S_MIN:
                problems.append(f"a disk stall stopped the clients: {rate:.1f} operations a "
                                f"second during it, under {STALL_OPS_PER_S_MIN}")
        return problems

    def expiry(self):
        """The TTL workload's check, and every TTL key gone on every node."""
        if not self.ttl:
            return []
        path = os.path.join(self.results, "ttl.jsonl")
        problems, counts, keys = expiry.check(path)
        # Found by a failed run: a key whose PEXPIRE of 3 s was acknowledged 2 s before this
        # read was "still present after the run" while it still had a second to live.
        time.sleep(max(0.0, (expiry.last_deadline_us(path) - now_us()) / 1e6))
        state = checks.final_state(self.cluster, keys)
        left = sorted({key for values in state.values() for key, v in values.items() if v})
        problems += [f"ttl: {key} still present after the run" for key in left]
        self.summary["ttl"] = {**counts, "operations": sum(self.ttl.history.counts.values()),
                               "violations": len(problems)}
        self.log(f"ttl: {counts}, {len(problems)} wrong")
        return problems

    def fencing(self):
        """The lock workload's check, on the data every node holds (which must agree)."""
        if not self.locks:
            return []
        state = checks.final_state(self.cluster, [lock.DATA, lock.FENCE])
        fenced, counts = lock.check(lock.read_records(self.locks.paths),
                                    next(iter(state.values()))[lock.DATA])
        problems = checks.compare_nodes(state) + fenced
        self.summary["lock"] = {**counts, "violations": len(problems)}
        self.log(f"lock: {counts}, {len(problems)} wrong")
        return problems

    def linearizability(self):
        checker = self.args.checker
        if checker == "none" or not os.access(checker, os.X_OK):
            self.log(f"lincheck: NOT RUN ({checker} is not an executable checker)")
            self.summary["lincheck"] = "not run"
            return [] if checker == "none" else [f"no checker at {checker}"]
        code, seconds, output = checks.lincheck(checker, self.history_path,
                                                self.args.check_timeout_s)
        meaning = checks.EXIT_MEANING.get(code, f"exit {code}")
        self.summary.update({"lincheck": meaning, "lincheck_s": round(seconds, 1)})
        with open(os.path.join(self.results, "lincheck.txt"), "w") as file:
            file.write(output)
        self.log(f"lincheck: {meaning} in {seconds:.1f} s")
        head = "\n".join(output.strip().splitlines()[:40])  # The verdict, the first violation.
        return [] if code == 0 else [f"lincheck: {meaning} (all of it in lincheck.txt)\n{head}"]

    def teardown(self):
        """Stops faults and clients first (after an interrupt they still run), then the rest."""
        if self.engine:
            self.engine.stopping.set()
            self.engine.join(10)
            self.summary.update({"faults_ran": self.engine.ran,
                                 "faults_skipped": self.engine.skipped})
        if self.workload:
            self.workload.stopping.set()
            self.summary.update({"outcomes": self.workload.history.counts,
                                 "error_replies": self.workload.history.errors})
        if self.locks:
            for proc in self.locks.procs:  # After an interrupt they may still run.
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if hasattr(self, "cluster"):
            self.cluster.stop_all()
            if self.cluster.disks:
                self.cluster.disks.unmount_all()
        netns.teardown(self.args.run_id)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.events:
            self.events.close()


def run(args):
    the_run = Run(args)
    try:
        entries = the_run.schedule()
    except (OSError, ValueError) as error:
        print(f"faults: {error}", file=sys.stderr)
        return 2
    text = schedule.render(entries)
    os.makedirs(the_run.results, exist_ok=True)
    print(f"faults: run {args.run_id}, seed {args.seed}, {args.nodes} nodes, "
          f"{args.minutes:g} min, results in {the_run.results}\n{text}", end="", flush=True)
    problems, error = [], None
    try:
        the_run.setup()
        with open(os.path.join(the_run.results, "schedule.txt"), "w") as file:
            file.write(text)
        problems = the_run.verify(the_run.exercise(entries))
    except KeyboardInterrupt:
        error = "interrupted"
    except Exception as failure:  # The suite failed, not the system: say so, then clean up.
        error = f"{type(failure).__name__}: {failure}"
    finally:
        the_run.teardown()
    return report(the_run, text, problems, error)


def report(the_run, text, problems, error):
    summary = the_run.summary
    summary["problems"] = problems
    summary["error"] = error
    with open(os.path.join(the_run.results, "summary.json"), "w") as file:
        json.dump(summary, file, indent=2)
    ran = ", ".join(f"{k} x{n}" for k, n in sorted(summary.get("faults_ran", {}).items()))
    print(f"faults ran: {ran or 'none'}")
    for kind, why in sorted(summary.get("faults_skipped", {}).items()):
        print(f"faults skipped: {kind}: {why}")
    print(f"operations: {summary.get('operations', '?')} {summary.get('outcomes', {})}")
    if error or problems:
        print(f"\nFAILED: seed {the_run.args.seed}; results kept in {the_run.results}")
        print(f"schedule:\n{text}", end="")
        for line in ([f"suite error: {error}"] if error else []) + problems:
            print(f"  {line}")
        return 2 if error else 1
    print(f"PASSED: seed {the_run.args.seed}, linearizability: "
          f"{summary.get('lincheck')} ({summary.get('lincheck_s', 0)} s)")
    if not the_run.args.keep:
        shutil.rmtree(the_run.results, ignore_errors=True)
    else:
        print(f"results kept in {the_run.results}")
    return 0


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(here, "..", "..", "build", "release")
    parser = argparse.ArgumentParser(description="raftkv fault suite (see README.md)")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--work", required=True, help="the nodes' data and proxy sockets")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schedule", help="a fixed schedule file instead of the seed's")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--think-ms", type=float, default=10,
                        help="each client pauses up to twice this between operations")
    parser.add_argument("--keep", action="store_true", help="keep results and data dirs")
    parser.add_argument("--results", default="/tmp/raftkv-faults",
                        help="each run's results go to a directory named by its id in here")
    parser.add_argument("--workloads", default="",
                        help="optional workloads beside the main one, comma-separated: "
                             + ", ".join(OPTIONAL_WORKLOADS))
    parser.add_argument("--break", dest="break_mode", choices=["stale-reads"],
                        help="run a broken workload the checks must catch")
    parser.add_argument("--server", default=os.path.join(build, "src/server/raftkv-server"))
    parser.add_argument("--server-arg", action="append", default=[],
                        help="one more server flag, as --server-arg=--snapshot-entries=2000")
    parser.add_argument("--checker", default=os.path.join(build, "tests/check/raftkv-lincheck"),
                        help="raftkv-lincheck, or 'none' to skip linearizability")
    parser.add_argument("--check-timeout-s", type=float, default=600)
    parser.add_argument("--converge-s", type=float, default=120)
    parser.add_argument("--lazyfs", help="the lazyfs binary (tests/lazyfs): every data dir on "
                        "a lazyfs mount, for disk-stall (README: 'Slow disk')")
    args = parser.parse_args(argv)
    if args.nodes < 1 or args.nodes > 9:
        parser.error("--nodes must be 1..9")
    if args.lazyfs == "none":
        args.lazyfs = None
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(OPTIONAL_WORKLOADS)
    if unknown:
        parser.error(f"--workloads: unknown {sorted(unknown)}")
    return args


def note_crash(hook_args):
    CRASHED_THREADS.append(f"{hook_args.thread.name} ({hook_args.exc_type.__name__}: "
                           f"{hook_args.exc_value})")
    threading.__excepthook__(hook_args)  # The traceback, as usual.


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # TERM cleans up like Ctrl-C.
    threading.excepthook = note_crash
    sys.exit(run(parse_args(sys.argv[1:])))
