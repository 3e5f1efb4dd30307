#!/usr/bin/python3 -B
"""redis-py (Debian's python3-redis) against a real raftkv cluster of five nodes.

Run by tests/process/redis_clients_test.cc, which starts the cluster and passes each node as
--node ID=HOST:PORT=PID and the leader as --leader ID. Checks, printing what it measured:
  1. connect, pipelines, WATCH transactions (applied, and refused after a change), expiry,
     hashes, SCAN and CLIENT, on the leader and on a follower;
  2. the ambiguous outcome: a RedisCluster client whose INCR reaches a follower whose
     forward to the leader is lost (the leader is killed while it holds the request) gets
     UNCERTAIN, and does not send the INCR again: applied at most once;
  3. failover: a RedisCluster client keeps writing while the leader is killed with -9 and
     finds the new leader by itself (CLUSTER SLOTS).
Exits 0 when every check passed, 1 with the failed check otherwise.
"""
import argparse
import os
import signal
import sys
import threading
import time

import redis
from redis.cluster import RedisCluster

TIMEOUT_S = 15


def log(*parts):
    print(*parts, flush=True)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


class Node:
    def __init__(self, spec):
        node_id, address, pid = spec.split("=")
        self.id = int(node_id)
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.pid = int(pid)
        self.alive = True

    def client(self, **options):
        return redis.Redis(host=self.host, port=self.port, socket_timeout=TIMEOUT_S, **options)

    def info(self, section):
        return self.client().info(section)


def wait_for_leader(nodes, among):
    """The leader a live node in `among` reports, once it is one of `among`."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for node in among:
            try:
                leader = int(node.info("raft")["leader_id"])
            except (redis.RedisError, OSError):
                continue
            if leader in [n.id for n in among]:
                return next(n for n in nodes if n.id == leader)
        time.sleep(0.05)
    raise AssertionError("no leader among %s within %d s" % ([n.id for n in among], TIMEOUT_S))


def basics(node, label, other):
    """Connect, pipeline, WATCH, expiry, hashes, SCAN, CLIENT through `node`."""
    r = node.client()
    prefix = "py:%s:" % label
    check(r.ping(), "PING")
    pipe = r.pipeline(transaction=False)
    pipe.set(prefix + "n", 1).incr(prefix + "n").get(prefix + "n").incrbyfloat(prefix + "f", 1.5)
    check(pipe.execute() == [True, 2, b"2", 1.5], "pipeline replies")
    with r.pipeline() as tx:  # WATCH, nothing changes: applied.
        tx.watch(prefix + "n")
        value = int(tx.get(prefix + "n"))
        tx.multi()
        tx.set(prefix + "n", value + 1)
        check(tx.execute() == [True], "WATCHed transaction applied")
    refused = False
    with r.pipeline() as tx:  # WATCH, another client changes the key: EXEC refused.
        tx.watch(prefix + "n")
        other.incr(prefix + "n")
        tx.multi()
        tx.set(prefix + "n", 0)
        try:
            tx.execute()
        except redis.WatchError:
            refused = True
    check(refused and r.get(prefix + "n") == b"4", "WATCHed transaction refused after a change")
    check(r.set(prefix + "e", "v", px=300) and 0 < r.pttl(prefix + "e") <= 300, "SET PX")
    time.sleep(0.4)
    check(r.get(prefix + "e") is None and r.exists(prefix + "e") == 0, "expired key is gone")
    check(r.set(prefix + "t", "v", ex=100, get=True) is None and r.ttl(prefix + "t") == 100,
          "SET EX GET, TTL")
    check(r.persist(prefix + "t") and r.ttl(prefix + "t") == -1, "PERSIST")
    check(r.hset(prefix + "h", mapping={"a": 1, "b": 2}) == 2, "HSET")
    check(r.hgetall(prefix + "h") == {b"a": b"1", b"b": b"2"}, "HGETALL")
    check(prefix.encode() + b"h" in set(r.scan_iter(match=prefix + "*", count=3)), "SCAN")
    check(r.client_setname("py-" + label) and r.client_getname() == "py-" + label, "SETNAME")
    check(any(c["name"] == "py-" + label for c in r.client_list()), "CLIENT LIST")
    check(isinstance(r.client_id(), int), "CLIENT ID")
    try:
        r.execute_command("NOSUCHCMD", "x")
        check(False, "an unknown command is refused")
    except redis.ResponseError:
        pass
    check("cmdstat_nosuchcmd" not in r.info("commandstats"),
          "an unknown command's name is not counted (it would grow the table)")
    log("basics through node %d (%s): ok" % (node.id, label))


def incr_calls(nodes):
    """INCR and INCRBY commands (redis-py sends INCRBY) each live node received (INFO
    commandstats)."""
    counts = {}
    for node in nodes:
        if node.alive:
            stats = node.info("commandstats")
            counts[node.id] = sum(int(stats.get("cmdstat_" + name, {"calls": 0})["calls"])
                                  for name in ("incr", "incrby"))
    return counts


def uncertain_not_resent(nodes, leader):
    """Proof of at-most-once for a cluster client whose request a follower forwards."""
    stale = leader  # The client's map will keep naming it master after it steps down.
    follower = next(n for n in nodes if n.id != leader.id)
    rc = RedisCluster(host=follower.host, port=follower.port, socket_timeout=TIMEOUT_S)
    check(rc.set("py:counter", 0), "SET through RedisCluster")
    check(rc.get_primaries()[0].port == stale.port, "RedisCluster found the leader")
    # Leadership moves while the client does not look: pause the leader until another leads.
    os.kill(stale.pid, signal.SIGSTOP)
    new_leader = wait_for_leader(nodes, [n for n in nodes if n is not stale])
    os.kill(stale.pid, signal.SIGCONT)
    while int(stale.info("raft")["leader_id"]) != new_leader.id:
        time.sleep(0.05)
    log("leadership moved from node %d to node %d; the client still names %d" %
        (stale.id, new_leader.id, stale.id))
    # The new leader holds the forwarded INCR (paused), then dies: the forward is lost.
    os.kill(new_leader.pid, signal.SIGSTOP)
    new_leader.alive = False  # Paused now, killed soon: it answers nothing more.
    before = incr_calls(nodes)
    killer = threading.Timer(0.5, os.kill, (new_leader.pid, signal.SIGKILL))
    killer.start()
    outcome = "ok"
    try:
        rc.incr("py:counter")
    except redis.ResponseError as error:
        outcome = str(error)
    killer.join()
    after = incr_calls(nodes)
    sent = sum(after[i] - before.get(i, 0) for i in after)
    log("INCR answered %r; INCR commands received by live nodes: %d" % (outcome, sent))
    check(outcome.startswith("UNCERTAIN"), "the lost forward is answered UNCERTAIN")
    check(sent == 1, "the client sent the INCR once (not re-sent)")
    survivor = wait_for_leader(nodes, [n for n in nodes if n.alive])
    value = int(survivor.client().get("py:counter"))
    log("counter after the failover: %d (leader now node %d)" % (value, survivor.id))
    check(value in (0, 1), "applied at most once")
    return survivor


def failover(nodes, leader):
    """A RedisCluster client keeps writing while the leader is killed with -9."""
    follower = next(n for n in nodes if n.alive and n is not leader)
    # dynamic_startup_nodes=False: redis-py 4.3.4 (Debian 12) cannot rebuild its connection to
    # a dead startup node (deepcopy of its own kwargs: "cannot pickle '_thread.lock'"), which
    # a discovered node becomes by default; a seed list of live nodes avoids that bug.
    rc = RedisCluster(host=follower.host, port=follower.port, socket_timeout=TIMEOUT_S,
                      dynamic_startup_nodes=False)
    acked = 0
    for _ in range(20):
        rc.incr("py:failover")
        acked += 1
    os.kill(leader.pid, signal.SIGKILL)
    leader.alive = False
    killed_at = time.monotonic()
    first_after = None
    for _ in range(20):
        rc.incr("py:failover")  # redis-py re-sends on a dropped connection: at-least-once.
        acked += 1
        if first_after is None:
            first_after = time.monotonic() - killed_at
    new_leader = wait_for_leader(nodes, [n for n in nodes if n.alive])
    value = int(new_leader.client().get("py:failover"))
    masters = [n.port for n in rc.get_primaries()]
    log("failover: first write acknowledged %.2f s after kill -9; %d acked, counter %d; "
        "the client's master is now port %s (node %d leads)" %
        (first_after, acked, value, masters, new_leader.id))
    check(masters == [new_leader.port], "RedisCluster follows the new leader")
    check(value >= acked, "every acknowledged INCR applied")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", action="append", required=True)
    parser.add_argument("--leader", type=int, required=True)
    args = parser.parse_args()
    nodes = [Node(spec) for spec in args.node]
    leader = next(n for n in nodes if n.id == args.leader)
    follower = next(n for n in nodes if n is not leader)
    basics(leader, "leader", follower.client())
    basics(follower, "follower", leader.client())
    survivor = uncertain_not_resent(nodes, leader)
    failover(nodes, survivor)
    log("redis-py: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        log("FAILED:", failure)
        sys.exit(1)
