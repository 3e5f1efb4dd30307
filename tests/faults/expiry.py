"""The optional TTL workload (--workloads ttl): keys with a deadline, read before and after it
while the schedule pauses, kills and cuts off nodes; and its check.

Each TTL client writes a fresh key once, with a deadline `ttl` ms ahead: either
`SET k v PX ttl`, or `SET k v` then `PEXPIRE k ttl` (the deadline then comes from the
PEXPIRE). It then reads the key with GET or PTTL at random moments from the write's return to
a second past the deadline. Every write and read is one line of `ttl.jsonl` (the history's
fields: invoke, return, status, result; plus key, cmd, value, ttl_ms).

Why the check is sound under log-time expiry (docs/semantics.md, "Expiry and the clock"):
the deadline is D = S + ttl, where S is the stamp of the write's entry: the proposing
leader's clock, read between the write's invoke I and return R. A read at a node runs at
"now" = max(that node's clock, log time), and log time is the largest stamp applied there;
the key is missing exactly when now >= D. With E the largest error of any server's clock
against the clients' (CLOCK_SKEW_MS), S is in [I - E, R + E], and a read's now is in
[i - E, r + E] for its invoke i and return r. So, for an acknowledged write and an ok read
invoked after R:
  - a read invoked at i >= R + ttl + 2E has now >= D: it must not return the value;
  - a read that returned at r < I + ttl - 2E has now < D: it must return the value (it is
    linearized after the write, and nothing else writes the key);
  - a PTTL of p >= 0 places D in [i - E + p, r + E + p], which must meet [I - E + ttl,
    R + E + ttl]; PTTL -1 (no deadline) is always wrong.
Between those bounds either answer is right. Nothing is checked for a write that failed or
ended unknown: an unknown write may apply later with a later stamp, so its deadline has no
bound. Linearizability of these keys is not the checker's business (its model has no
expiry), so they stay out of history.jsonl.
"""

import json
import random
import threading

from workload import Caller, History, call, now_us

# E: the servers and the clients share this machine's clock. What E covers: stamps in whole
# milliseconds, and NTP slewing the wall clock against the monotonic one (at most 0.5 ms a
# second, over a key's few seconds). A stepped clock is beyond it, as docs/semantics.md says.
CLOCK_SKEW_MS = 25
TTLS_MS = (200, 500, 1000, 3000)
READS_PER_KEY = 6
READ_AFTER_DEADLINE_MS = 1000  # Reads go on this long past the deadline.


class TtlClient(Caller, threading.Thread):
    def __init__(self, workload, history, index):
        threading.Thread.__init__(self, name=f"ttl-{index}", daemon=True)
        Caller.__init__(self, workload.layout, random.Random(workload.seed * 1000 + 500 + index),
                        workload.stale_reads)
        self.w = workload
        self.history = history
        self.index = index
        self.keys = 0

    def run(self):
        while not self.w.stopping.is_set():
            self.one_key()
        self.drop()

    def record(self, fields, op):
        op.update(fields)
        self.history.record(op)
        return op

    def one_key(self):
        self.keys += 1
        key, value = f"x{self.index}.{self.keys}", f"v{self.index}-{self.keys}"
        ttl_ms = self.rng.choice(TTLS_MS)
        fields = {"key": key, "value": value, "ttl_ms": ttl_ms}
        note = self.history.note_error
        if self.rng.random() < 0.5:
            write = self.record({**fields, "cmd": "set-px"},
                                call(self, [["SET", key, value, "PX", str(ttl_ms)]], True, note))
        else:
            plain = call(self, [["SET", key, value]], True, note)
            if plain["status"] != "ok":
                return self.record({**fields, "cmd": "set"}, plain)
            write = self.record({**fields, "cmd": "pexpire"},
                                call(self, [["PEXPIRE", key, str(ttl_ms)]], True, note))
        if write["status"] != "ok":
            return write
        span_us = (ttl_ms + READ_AFTER_DEADLINE_MS) * 1000
        for at_us in sorted(self.rng.uniform(0, span_us) for _ in range(READS_PER_KEY)):
            wait_s = (write["return"] + at_us - now_us()) / 1e6
            if self.w.stopping.wait(max(0.0, wait_s)):
                break
            cmd = self.rng.choice(["GET", "PTTL"])
            self.record({"key": key, "cmd": cmd.lower()}, call(self, [[cmd, key]], False, note))
        return write


class TtlWorkload:
    """`clients` TTL clients beside the main workload, recording into `path`."""

    def __init__(self, workload, path, clients):
        self.history = History(path)
        self.threads = [TtlClient(workload, self.history, i) for i in range(1, clients + 1)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        """The main workload's stopping event is set: each client ends its current key."""
        for thread in self.threads:
            thread.join(max(TTLS_MS) / 1000 + READ_AFTER_DEADLINE_MS / 1000 + 30)
            assert not thread.is_alive(), f"{thread.name} did not stop"
        self.history.close()


def check(path, skew_ms=CLOCK_SKEW_MS):
    """(problems, counts, keys) of the records in `path` (module docstring: why these bounds);
    keys: those whose deadline was acknowledged, which must all be gone after the run."""
    with open(path) as file:
        ops = [json.loads(line) for line in file if line.strip()]
    writes = {op["key"]: op for op in ops if op["cmd"] in ("set-px", "pexpire")
              and op["status"] == "ok"}
    margin_us = 2 * skew_ms * 1000
    problems, counts = [], {"keys": len(writes), "reads checked": 0, "before": 0, "after": 0}
    for read in ops:
        write = writes.get(read["key"])
        if read["cmd"] not in ("get", "pttl") or read["status"] != "ok" or write is None:
            continue
        counts["reads checked"] += 1
        why = judge(write, read, margin_us, counts)
        if why:
            problems.append(f"ttl: {read['cmd']} of {read['key']} invoked "
                            f"{(read['invoke'] - write['return']) / 1000:.0f} ms after the "
                            f"{write['cmd']} (ttl {write['ttl_ms']} ms) returned "
                            f"{read['result']!r}: {why}")
    return problems, counts, sorted(writes)


def last_deadline_us(path, skew_ms=CLOCK_SKEW_MS):
    """The latest moment (now_us's clock) by which every acknowledged deadline in `path` has
    passed on every server: the final check waits for it, since the last keys are written
    right before the workload stops, some with seconds still to live."""
    with open(path) as file:
        ops = [json.loads(line) for line in file if line.strip()]
    return max((op["return"] + (op["ttl_ms"] + 2 * skew_ms) * 1000 for op in ops
                if op["cmd"] in ("set-px", "pexpire") and op["status"] == "ok"), default=0)


def judge(write, read, margin_us, counts):
    """Why `read` contradicts `write`'s deadline, or None."""
    ttl_us = write["ttl_ms"] * 1000
    result = read["result"]
    if read["cmd"] == "pttl" and result == -1:
        return "the key has no deadline"
    present = result == write["value"] if read["cmd"] == "get" else result >= 0
    if read["cmd"] == "get" and result not in (None, write["value"]):
        return "a value nobody wrote"
    if read["invoke"] >= write["return"] + ttl_us + margin_us:
        counts["after"] += 1
        if present:
            return "present past its deadline"
    if read["return"] < write["invoke"] + ttl_us - margin_us:
        counts["before"] += 1
        if not present:
            return "missing before its deadline"
    if read["cmd"] == "pttl" and result >= 0:
        earliest = max(read["invoke"] + result * 1000, write["invoke"] + ttl_us)
        latest = min(read["return"] + result * 1000, write["return"] + ttl_us)
        if earliest > latest + margin_us + 1000:  # + 1 ms: PTTL rounds down.
            return "a deadline that the write's interval rules out"
    return None
