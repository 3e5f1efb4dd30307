"""What the suite checks once the faults are healed:

1. convergence: every node answers INFO, they agree on one leader, and every node reaches the
   same applied index (stable across two polls);
2. the final state: each node's own value of every key the workload used (GET under
   READONLY, so that each node answers from its own state), written to the history as the
   format's "final" lines; every node must hold the same values;
3. unique appends: each appended token occurs exactly once in its key's final value when the
   append was acknowledged, never when it failed, at most once when unknown;
4. linearizability of the history, by the project's checker (raftkv-lincheck FILE: exit 0
   linearizable, 1 violation, 2 bad input, 3 timed out).
"""

import json
import subprocess
import time

from cluster import resp_call

EXIT_MEANING = {0: "linearizable", 1: "NOT linearizable", 2: "bad input", 3: "timed out"}


def converge(cluster, timeout_s):
    """Waits until the nodes agree; returns (ok, what was seen last)."""
    deadline, previous, seen = time.monotonic() + timeout_s, None, {}
    while time.monotonic() < deadline:
        seen = {n: cluster.info(n) for n in cluster.nodes}
        leaders = {i.get("leader_id") for i in seen.values() if i}
        applied = {i.get("applied_index") for i in seen.values() if i}
        agreed = all(seen.values()) and len(leaders) == 1 and "0" not in leaders and \
            len(applied) == 1
        if agreed and previous == applied:
            return True, seen
        previous = applied if agreed else None
        time.sleep(1)
    return False, seen


def describe_nodes(seen):
    return "; ".join(f"node {n}: " + (f"{i.get('role')} term {i.get('term')} leader "
                                      f"{i.get('leader_id')} applied {i.get('applied_index')}"
                                      if i else "no answer") for n, i in sorted(seen.items()))


def final_state(cluster, keys):
    """{node: {key: value or None}} read from each node's own state."""
    keys = sorted(keys)
    state = {}
    for node in sorted(cluster.nodes):
        conn = cluster.connect(node, 10)
        try:
            resp_call(conn, "READONLY")
            values = {}
            for start in range(0, len(keys), 200):
                chunk = keys[start:start + 200]
                for key, value in zip(chunk, resp_call(conn, "MGET", *chunk)):
                    values[key] = value.decode() if value is not None else None
            state[node] = values
        finally:
            conn.disconnect()
    return state


def compare_nodes(state):
    """Problems: keys whose value differs between nodes."""
    problems = []
    nodes = sorted(state)
    for key in sorted(state[nodes[0]]):
        values = {n: state[n][key] for n in nodes}
        if len(set(values.values())) > 1:
            problems.append(f"nodes disagree on {key}: {values}")
    return problems


def appended_tokens(op):
    """(key, token) of every append an operation made, sub-operations of a txn included."""
    if op["f"] == "append":
        return [tuple(op["args"])]
    if op["f"] == "txn":
        return [(sub[1], sub[2]) for sub in op["args"] if sub[0] == "append"]
    return []


def check_appends(ops, values):
    """Problems: tokens applied more (or fewer) times than their outcome allows."""
    problems, checked = [], 0
    for op in ops:
        for key, token in appended_tokens(op):
            checked += 1
            count = (values.get(key) or "").split(";").count(token.rstrip(";"))
            allowed = {"ok": (1, 1), "fail": (0, 0), "unknown": (0, 1)}[op["status"]]
            if not allowed[0] <= count <= allowed[1]:
                problems.append(f"append {token} to {key} ({op['status']}, op {op['id']}) "
                                f"found {count} times")
    return problems, checked


def done_within(ops, start_us, end_us):
    """Operations that succeeded with both their call and their answer in [start_us, end_us]."""
    return sum(1 for op in ops if op.get("status") == "ok" and start_us <= op["invoke"] and
               op["return"] <= end_us)


def lincheck(checker, history_path, timeout_s):
    """(exit code, seconds, output) of the checker; exit 3 when it outlives timeout_s."""
    started = time.monotonic()
    try:
        done = subprocess.run([checker, history_path], capture_output=True, text=True,
                              timeout=timeout_s)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code, output = 3, f"killed after {timeout_s} s\n{expired.stdout or ''}"
    return code, time.monotonic() - started, output


def read_history(path):
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def append_finals(path, state):
    with open(path, "a") as file:
        for node, values in sorted(state.items()):
            file.write(json.dumps({"final": values, "node": node}, separators=(",", ":")) + "\n")
