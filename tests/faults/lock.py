"""The optional lock workload (--workloads lock): examples/lock's fenced lock, used by client
processes that the schedule freezes (SIGSTOP, the `pause-holder` fault) past their lease; and
its check.

Each lock client is a process of its own (so that a fault can stop it), running
`lock.py client`: in a loop it
  1. takes the lease and draws its token in one transaction, `MULTI; SET lock:L holder:CLIENT
     NX PX LEASE_MS; INCR lock:L:fence; EXEC` (examples/lock/README.md says why together);
  2. while it believes it holds the lease (less than LEASE_MS * 0.8 since it sent the SET),
     it decides to write, thinks a little (where a freeze makes the write stale), and writes
     through the fence, as FencedStore does: on one connection `WATCH fence:L`,
     `GET fence:L`, refuse when the fence is larger than its token, else
     `MULTI; SET fence:L TOKEN; APPEND data:L TOKEN:ID; EXEC`;
  3. never releases: the lease ends by expiry, and a frozen holder wakes up believing it
     still holds it, in the middle of any of these steps.
Each step is one line in `lock-N.jsonl` (op: grant or write; the history's invoke, return,
status, result; token, id).

The check, over the final `data:L` (every node's, which must agree) and the records:
  - no stale write applied, in two senses. The mechanism: the tokens in data:L, in apply
    order, never decrease (the fence refuses a smaller token). The promise: no write under a
    lease is applied after a write under a lease certainly granted later (its SET was sent
    after the first lease's SET returned); examples/lock's holders must not outlive that;
  - each write applied as its outcome says: exactly once when acknowledged, never when
    refused, aborted by its WATCH, or failed, at most once when unknown;
  - no two leases at once: two acknowledged grants whose SETs were so close that their
    entries' stamps cannot be LEASE_MS apart, whatever the clocks within expiry.CLOCK_SKEW_MS
    (a lease granted at stamp S lasts until S + LEASE_MS of log time; expiry.py says why the
    stamp lies in [invoke - E, return + E]).
"""

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

import expiry
import netns
import redis
from cluster import resp_call
from workload import Caller, call, now_us

LEASE_MS = 1000
HOLD_SHARE = 0.8        # A holder writes only this share of its lease, by its own clock.
STOP_WAIT_S = 40.0      # After its --seconds, a client ends within a few request timeouts.
# examples/lock's keys for the lock L: the lease, the token counter, and the resource's fence
# and data.
LOCK, TOKENS, FENCE, DATA = "lock:L", "lock:L:fence", "fence:L", "data:L"


class LockClient(Caller):
    def __init__(self, layout, index, seed, out):
        super().__init__(layout, random.Random(seed * 1000 + 900 + index), False)
        self.index = index
        self.out = out
        self.writes = 0

    def record(self, fields, op):
        op.update(fields)
        self.out.write(json.dumps(op, separators=(",", ":")) + "\n")
        self.out.flush()  # Whatever stops this process, its records stay.
        return op

    def acquire(self):
        """A token whose lease we hold, or None."""
        taken = call(self, [["MULTI"], ["SET", LOCK, f"holder:{self.index}", "NX", "PX",
                                         str(LEASE_MS)], ["INCR", TOKENS], ["EXEC"]], True,
                     lambda text: None)
        # EXEC's replies: the SET's (OK, or nil when held) and the token.
        token = taken["result"][1] if taken["status"] == "ok" else None
        granted = taken["status"] == "ok" and taken["result"][0] == "OK"
        grant = self.record({"op": "grant", "token": token, "client": self.index},
                            {**taken, "result": "OK" if granted else None})
        return grant if granted else None

    def write(self, token):
        """One fenced write; False when the fence refused the token (the lease is gone)."""
        self.writes += 1
        entry = f"{token}:{self.index}-{self.writes}"
        fields = {"op": "write", "token": token, "id": entry}
        checked = call(self, [["WATCH", FENCE], ["GET", FENCE]], False, lambda text: None)
        if checked["status"] != "ok":
            self.record({**fields, "why": "watch failed"}, checked)
            return True
        if checked["result"] is not None and int(checked["result"]) > token:
            self.record({**fields, "why": f"refused: fence {checked['result']}"},
                        {**checked, "status": "fail"})
            self.drop()  # The WATCH goes with the connection.
            return False
        done = call(self, [["MULTI"], ["SET", FENCE, str(token)], ["APPEND", DATA, entry + ";"],
                           ["EXEC"]], True, lambda text: None)
        if done["status"] == "ok" and done["result"] is None:
            done["status"], fields["why"] = "fail", "aborted: the fence moved since WATCH"
        self.record(fields, done)
        return True

    def run(self, seconds):
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            grant = self.acquire()
            if grant is None:
                time.sleep(self.rng.uniform(0.05, 0.2))
                continue
            believed_until_us = grant["invoke"] + LEASE_MS * HOLD_SHARE * 1000
            while now_us() < believed_until_us:
                # Decided to write while the lease looked good; a freeze here makes it stale.
                time.sleep(self.rng.uniform(0.02, 0.1))
                if not self.write(grant["token"]):
                    break
        self.drop()


class LockWorkload:
    """`clients` lock client processes in the client namespace (this process is in it)."""

    def __init__(self, layout, results, seed, clients):
        self.layout = layout
        self.paths = [os.path.join(results, f"lock-{i}.jsonl") for i in range(1, clients + 1)]
        self.seed = seed
        self.procs = []

    def start(self, seconds):
        here = os.path.dirname(os.path.abspath(__file__))
        for index, path in enumerate(self.paths, 1):
            self.procs.append(subprocess.Popen(
                ["/usr/bin/python3", "-B", os.path.join(here, "lock.py"), "client",
                 "--run-id", self.layout.run_id, "--nodes", str(len(self.layout.nodes)),
                 "--index", str(index), "--seed", str(self.seed), "--seconds", str(seconds),
                 "--out", path], start_new_session=True))

    def holder(self, addrs):
        """The pid of the client whose lease lock:L holds now (asking the nodes at `addrs`,
        the first that answers), or None."""
        for addr in addrs:
            conn = redis.Connection(host=addr, port=netns.CLIENT_PORT,
                                    socket_timeout=2, socket_connect_timeout=1)
            try:
                value = resp_call(conn, "GET", LOCK)
                if value is None:
                    return None
                return self.procs[int(value.decode().split(":")[1]) - 1].pid
            except (redis.RedisError, OSError):
                continue
            finally:
                conn.disconnect()
        return None

    def stop(self):
        """Waits for the clients to end (their --seconds), waking any left frozen."""
        for proc in self.procs:
            proc.send_signal(signal.SIGCONT)
            try:
                proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"lock client {proc.pid} did not stop") from None
            if proc.returncode != 0:
                raise RuntimeError(f"lock client {proc.pid} exited {proc.returncode}")


def read_records(paths):
    ops = []
    for path in paths:
        with open(path) as file:
            ops += [json.loads(line) for line in file if line.strip()]
    return ops


def check(ops, data, skew_ms=expiry.CLOCK_SKEW_MS):
    """(problems, counts) for the records `ops` and the final value `data` of data:L."""
    problems = []
    applied = [entry for entry in (data or "").split(";") if entry]
    tokens = [int(entry.split(":")[0]) for entry in applied]
    for position, (before, after) in enumerate(zip(tokens, tokens[1:]), 1):
        if after < before:
            problems.append(f"lock: stale write applied: {applied[position]} after "
                            f"{applied[position - 1]} in data:L")
    grants = sorted((op for op in ops if op["op"] == "grant" and op["status"] == "ok"
                     and op["result"] == "OK"), key=lambda op: op["invoke"])
    problems += older_lease_after_newer(applied, grants)
    writes = [op for op in ops if op["op"] == "write"]
    times_applied = collections.Counter(applied)
    for op in writes:
        count = times_applied[op["id"]]
        allowed = {"ok": (1, 1), "fail": (0, 0), "unknown": (0, 1)}[op["status"]]
        if not allowed[0] <= count <= allowed[1]:
            problems.append(f"lock: write {op['id']} ({op['status']} {op.get('why', '')}) "
                            f"applied {count} times")
    problems += overlapping_leases(grants, 2 * skew_ms * 1000)
    counts = {"grants": len(grants), "writes applied": len(applied),
              "refused": sum(1 for op in writes if op.get("why", "").startswith("refused")),
              "aborted": sum(1 for op in writes if op.get("why", "").startswith("aborted")),
              "unknown": sum(1 for op in writes if op["status"] == "unknown"),
              "grants out of token order": sum(1 for a, b in zip(grants, grants[1:])
                                               if b["token"] < a["token"])}
    return problems, counts


def older_lease_after_newer(applied, grants):
    """Applied entries (TOKEN:CLIENT-N, in apply order) written under a lease that was
    certainly granted before the lease of an entry applied earlier."""
    by_lease = {(op["token"], op["client"]): op for op in grants}
    problems, newest = [], None  # The entry whose lease was sent last, so far.
    for entry in applied:
        token, rest = entry.split(":")
        grant = by_lease.get((int(token), int(rest.split("-")[0])))
        if grant is None:
            problems.append(f"lock: {entry} applied without an acknowledged lease")
            continue
        if newest and grant["return"] < newest[1]["invoke"]:
            problems.append(f"lock: stale write applied: {entry} under a lease granted before "
                            f"{newest[0]}'s, after it")
        if newest is None or grant["invoke"] > newest[1]["invoke"]:
            newest = (entry, grant)
    return problems


def overlapping_leases(grants, margin_us):
    """Grants (sorted by invoke) whose stamps cannot be LEASE_MS apart: for A granted before
    B, B's stamp <= B.return + E and A's >= A.invoke - E, so B.return - A.invoke + 2E <
    LEASE_MS means B was granted while A's lease ran."""
    problems = []
    lease_us = LEASE_MS * 1000
    for i, first in enumerate(grants):
        for second in grants[i + 1:]:
            if second["invoke"] - first["return"] > lease_us + margin_us:
                break  # Sorted by invoke: every later grant is farther.
            gap = max(second["return"] - first["invoke"], first["return"] - second["invoke"])
            if gap + margin_us < lease_us:
                problems.append(f"lock: tokens {first['token']} and {second['token']} leased "
                                f"at once (grants {gap / 1000:.0f} ms apart at most)")
    return problems


def main():
    parser = argparse.ArgumentParser(description="one lock client (lock.py's docstring)")
    parser.add_argument("role", choices=["client"])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w") as out:
        LockClient(netns.Layout(args.run_id, args.nodes), args.index, args.seed,
                   out).run(args.seconds)


if __name__ == "__main__":
    sys.exit(main())
