"""Fault schedules: what runs when, from a file or derived from a seed, and the fault kinds.

A schedule is text, one fault per line, seconds from the start of the workload:
    # at  duration  kind            parameters (key=value)
    5     8         kill            target=leader
    16    6         partition       mode=majority
Faults run one at a time, in order; each heals when its duration ends (a killed node
restarts, a paused one resumes, rules and qdiscs go). The generated schedule of a seed is
printed in this form, so a run can be replayed from the printed text with --schedule.

A kind is a function in KINDS: given the run's context and its parameters, it starts the
fault and returns (what it did, how to undo it), or raises Skip saying why it cannot run
here. Adding a kind is one such function, plus a line in GENERATED if seeded schedules
should draw it (and a line in ci.schedule, which must cover every kind).

The membership kinds (transfer, member-remove-add, member-replace) take `cut=none|target|
other`: first cut off from every other host the node the change is about, or another node,
so that the change runs while a partition is in place; the undo finishes the change, heals
the cut, and leaves as many voters as before, none of them a learner.
"""

import os
import random
import signal
import time

import redis


class Skip(Exception):
    """The fault cannot run on this machine or in this run; the message says why."""


class Entry:
    def __init__(self, at_s, duration_s, kind, params):
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind '{kind}' (known: {', '.join(sorted(KINDS))})")
        self.at_s = at_s
        self.duration_s = duration_s
        self.kind = kind
        self.params = params

    def __str__(self):
        params = " ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.at_s:<7g} {self.duration_s:<9g} {self.kind:<18} {params}".rstrip()


def parse(text):
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            at_s, duration_s, kind = float(words[0]), float(words[1]), words[2]
            params = dict(word.split("=", 1) for word in words[3:])
            entries.append(Entry(at_s, duration_s, kind, params))
        except (IndexError, ValueError) as error:
            raise ValueError(f"schedule line {number}: '{line.strip()}': {error}") from None
    for before, after in zip(entries, entries[1:]):
        if after.at_s < before.at_s + before.duration_s:
            raise ValueError(f"schedule: '{after}' starts before '{before}' ends")
    return entries


def render(entries):
    return "# at    duration  kind               parameters\n" + \
        "".join(f"{entry}\n" for entry in entries)


# Seeded schedules: each kind with parameter choices drawn from the seed.
GENERATED = {
    "kill": lambda rng: {"target": rng.choice(["leader", "random"])},
    "pause": lambda rng: {"target": rng.choice(["leader", "random"])},
    "partition": lambda rng: {"mode": "majority"},
    "isolate-leader": lambda rng: {},
    "bridge": lambda rng: {},
    "one-way": lambda rng: {"from": rng.choice(["leader", "random"])},
    "loss": lambda rng: {"p": rng.choice(["0.05", "0.2", "0.4"])},
    "slow-link": lambda rng: {"target": rng.choice(["leader", "random"]),
                              "rate": rng.choice(["100kbit", "1mbit"]), "latency": "300ms"},
    "delay": lambda rng: {"delay_ms": rng.choice(["5", "20", "50"]),
                          "jitter_ms": rng.choice(["10", "50", "100"]),
                          "reorder": rng.choice(["0", "0.1"])},
    "duplicate": lambda rng: {"p": rng.choice(["0.1", "0.3"])},
    "pause-holder": lambda rng: {},
    "disk-stall": lambda rng: {"target": rng.choice(["leader", "random"])},
    "transfer": lambda rng: {"target": "random", "cut": rng.choice(["none", "target", "other"])},
    "member-remove-add": lambda rng: {"target": rng.choice(["leader", "random"]),
                                      "cut": rng.choice(["none", "target", "other"])},
    "member-replace": lambda rng: {"target": rng.choice(["leader", "random"]),
                                   "cut": rng.choice(["none", "target", "other"])},
}


def generate(seed, seconds, nodes):
    """A schedule filling [5, seconds - 10) s: faults of 3-12 s with 2-6 s healthy gaps."""
    rng = random.Random(seed)
    kinds = sorted(GENERATED)
    entries, at_s = [], 5.0
    while True:
        duration_s = round(rng.uniform(3, 12), 1)
        if at_s + duration_s > seconds - 10:
            return entries
        kind = rng.choice(kinds)
        if kind == "bridge" and nodes < 3:
            continue
        entries.append(Entry(at_s, duration_s, kind, GENERATED[kind](rng)))
        at_s = round(at_s + duration_s + rng.uniform(2, 6), 1)


class Context:
    """What a fault may use: the cluster, the run's seeded rng, the lock clients
    (lock.LockWorkload, or None without --workloads lock), the run's log, and the duration
    of the fault being started (the engine sets it)."""

    def __init__(self, cluster, rng, locks=None, log=print):
        self.cluster = cluster
        self.rng = rng
        self.locks = locks
        self.log = log
        self.duration_s = 0.0

    @property
    def node_ids(self):
        return sorted(self.cluster.nodes)

    def target(self, spec):
        """'leader' (a random node when there is none), 'random', or a node id."""
        if spec == "leader":
            leader = self.cluster.leader()
            if leader is not None:
                return leader
            spec = "random"
        if spec == "random":
            return self.rng.choice(self.node_ids)
        node = int(spec)
        if node not in self.cluster.nodes:
            raise ValueError(f"no node {node}")
        return node

    def split(self, nodes):
        shuffled = list(nodes)
        self.rng.shuffle(shuffled)
        half = len(shuffled) // 2
        return sorted(shuffled[:half]), sorted(shuffled[half:])


def _set(nodes):
    return "{" + ",".join(map(str, nodes)) + "}"


def kill(ctx, params):
    node = ctx.target(params.get("target", "random"))
    ctx.cluster.signal(node, signal.SIGKILL)
    return f"kill -9 node {node}", lambda: ctx.cluster.start(node)


def pause(ctx, params):
    node = ctx.target(params.get("target", "random"))
    ctx.cluster.signal(node, signal.SIGSTOP)
    return f"SIGSTOP node {node}", lambda: ctx.cluster.signal(node, signal.SIGCONT)


def pause_holder(ctx, params):
    """Freezes the lock client that holds the lease (a random one when none does) for the
    fault's duration, far past its lease: it wakes believing it still holds it."""
    if ctx.locks is None:
        raise Skip("no lock clients (run with --workloads lock)")
    holder = ctx.locks.holder([ctx.cluster.addr(n) for n in ctx.node_ids])
    pid = holder or ctx.rng.choice(ctx.locks.procs).pid
    os.kill(pid, signal.SIGSTOP)
    return (f"SIGSTOP lock client pid {pid} ({'the holder' if holder else 'no holder now'})",
            lambda: os.kill(pid, signal.SIGCONT))


def _cut_between(ctx, side_a, side_b):
    ctx.cluster.cut([(a, b) for a in side_a for b in side_b])
    return lambda: ctx.cluster.cut([])


def partition(ctx, params):
    if params.get("mode", "majority") != "majority":
        raise ValueError("partition: mode=majority is the only mode")
    minority, majority = ctx.split(ctx.node_ids)
    return f"partition {_set(majority)} | {_set(minority)}", _cut_between(ctx, minority, majority)


def isolate_leader(ctx, params):
    leader = ctx.target("leader")
    others = [n for n in ctx.node_ids if n != leader]
    return f"isolate node {leader} (leader)", _cut_between(ctx, [leader], others)


def bridge(ctx, params):
    """Two sides that cannot talk, and one node that talks to both."""
    middle = ctx.target(params.get("target", "random"))
    side_a, side_b = ctx.split([n for n in ctx.node_ids if n != middle])
    return (f"bridge: {_set(side_a)} | {_set(side_b)}, node {middle} sees both",
            _cut_between(ctx, side_a, side_b))


def one_way(ctx, params):
    source = ctx.target(params.get("from", "leader"))
    links = [(source, n) for n in ctx.node_ids if n != source]
    ctx.cluster.cut_one_way(links)
    return (f"one-way: node {source} cannot send to the others, hears them all",
            lambda: ctx.cluster.cut([]))


def loss(ctx, params):
    probability = float(params.get("p", "0.2"))
    ctx.cluster.lossy(probability)
    return f"loss: {probability:.0%} of packets between nodes", lambda: ctx.cluster.cut([])


def slow_link(ctx, params):
    node = ctx.target(params.get("target", "random"))
    rate, latency = params.get("rate", "1mbit"), params.get("latency", "300ms")
    ctx.cluster.shape(node, rate, latency)
    host = ctx.cluster.nodes[node].host
    return f"slow link: node {node} sends at {rate}, queues {latency}", \
        lambda: ctx.cluster.unshape(host)


def _proxies(ctx, what, faults):
    hosts = ctx.cluster.layout.hosts
    for host in hosts:
        ctx.cluster.proxy_set(host, **faults)

    def undo():
        for host in hosts:
            ctx.cluster.proxy_set(host, delay_ms=0, jitter_ms=0, reorder=0.0, duplicate=0.0)
    return what, undo


def delay(ctx, params):
    faults = {"delay_ms": int(params.get("delay_ms", "20")),
              "jitter_ms": int(params.get("jitter_ms", "50")),
              "reorder": float(params.get("reorder", "0.1"))}
    return _proxies(ctx, f"frame proxy: delay {faults['delay_ms']} ms + up to "
                         f"{faults['jitter_ms']} ms, reorder {faults['reorder']:.0%}", faults)


def duplicate(ctx, params):
    probability = float(params.get("p", "0.2"))
    return _proxies(ctx, f"frame proxy: duplicate {probability:.0%} of Raft-only frames",
                    {"duplicate": probability, "jitter_ms": 20})


def netem(ctx, params):
    args = params.get("args", "delay,50ms,20ms,loss,2%,duplicate,1%").split(",")

    hosts = ctx.cluster.layout.hosts

    def undo():
        for host in hosts:
            ctx.cluster.unshape(host)
    for host in hosts:
        why = ctx.cluster.netem(host, *args)
        if why:
            undo()
            raise Skip(f"netem unavailable ({why}); the frame proxy's delay, reorder and "
                       "duplicate faults and iptables' statistic loss stand in for it")
    return f"netem {' '.join(args)} on every node", undo


def disk_stall(ctx, params):
    """Stalls the target's fsyncs through its lazyfs mount (--lazyfs): each one that starts
    within the fault waits `sync_ms` (default: the fault's duration, a disk that hangs)."""
    node = ctx.target(params.get("target", "leader"))
    sync_ms = int(params.get("sync_ms", ctx.duration_s * 1000))
    if not ctx.cluster.stall_disk(node, sync_ms):
        raise Skip("no --lazyfs given: a slow disk needs the data dirs on tests/lazyfs")
    leader = ctx.cluster.leader()

    def undo():
        ctx.cluster.stall_disk(node, 0)
        counters = ctx.cluster.disks.counters(ctx.cluster.nodes[node].host)
        ctx.log(f"      disk stall of node {node} ended: {counters['syncs_stalled']} syncs "
                f"stalled so far; leader was node {leader}, now node {ctx.cluster.leader()}")
    return f"disk stall: node {node}'s fsyncs wait {sync_ms} ms each (leader: node {leader})", \
        undo


def _need_voters(ctx, count):
    if len(ctx.node_ids) < count:
        raise Skip(f"needs at least {count} nodes")


def _cut(ctx, mode, target, spare=()):
    """cut=none|target|other: cuts off nobody, `target`, or a random other member not in
    `spare` from every other host; returns (the node cut off or None, text, heal)."""
    if mode == "none":
        return None, "", lambda: None
    if mode not in ("target", "other"):
        raise ValueError(f"cut={mode}: none, target or other")
    node = target if mode == "target" else \
        ctx.rng.choice([n for n in ctx.node_ids if n != target and n not in spare])
    ctx.cluster.isolate(node)
    return node, f", node {node} cut off", lambda: ctx.cluster.cut([])


def _via(ctx, cut):
    """A running member, not cut off, for a node to join through."""
    return ctx.rng.choice([n for n in ctx.node_ids
                           if n != cut and ctx.cluster.nodes[n].running])


def transfer(ctx, params):
    """RAFT.TRANSFER on the leader to `target` (random: any other voter; or an id); waits
    up to 3 s for who leads then. With cut=target the target cannot be reached: the transfer
    must give up and leave a leader."""
    _need_voters(ctx, 2)
    leader = ctx.cluster.leader()
    if leader is None:
        raise Skip("no leader to transfer from")
    spec = params.get("target", "random")
    to = ctx.rng.choice([n for n in ctx.node_ids if n != leader]) if spec == "random" \
        else ctx.target(spec)
    cut, cut_text, heal = _cut(ctx, params.get("cut", "none"), to, spare=[leader])
    started = time.monotonic()
    try:
        answer = ctx.cluster.admin(leader, "RAFT.TRANSFER", str(to))
    except redis.ResponseError as error:
        answer = f"refused: {error}"
    now = leader
    while time.monotonic() < started + 3 and now in (leader, None):
        time.sleep(0.05)
        now = ctx.cluster.leader()
    took_ms = (time.monotonic() - started) * 1000
    return (f"transfer node {leader} -> node {to}{cut_text}: answered {answer!r}, node {now} "
            f"leads after {took_ms:.0f} ms"), heal


def member_remove_add(ctx, params):
    """Removes the target voter, stops it, wipes its data dir, and (unless it is cut off)
    starts its host again under a new id with --join, a learner; the undo (after healing
    when the target was the one cut off) promotes it once it caught up."""
    _need_voters(ctx, 3)
    victim = ctx.target(params.get("target", "random"))
    cut, cut_text, heal = _cut(ctx, params.get("cut", "none"), victim)
    took_s = ctx.cluster.remove(victim)
    host = ctx.cluster.retire(victim)
    joined = [] if cut == victim else [ctx.cluster.join(host, _via(ctx, cut))]

    def undo():
        if not joined:
            heal()
            joined.append(ctx.cluster.join(host, _via(ctx, None)))
        ctx.log(f"      promoted node {joined[0]} in {ctx.cluster.promote(joined[0]):.1f} s")
        heal()
    rejoined = f"node {joined[0]} (learner) joined" if joined else "rejoins after healing"
    return (f"removed node {victim}{cut_text} ({took_s:.1f} s), wiped it; on its host "
            f"{rejoined}"), undo


def member_replace(ctx, params):
    """Replaces the target voter by a fresh node on a spare host, in `raftkv member
    replace`'s order: the fresh node joins (--join, a learner) now; the undo promotes it once
    it caught up and removes the target (both under the cut, if any), heals, waits for the
    target to learn its removal, and stops and wipes it (its host becomes the spare)."""
    _need_voters(ctx, 3)
    if not ctx.cluster.spares:
        raise Skip("no spare host")
    victim = ctx.target(params.get("target", "random"))
    cut, cut_text, heal = _cut(ctx, params.get("cut", "none"), victim)
    fresh = ctx.cluster.join(ctx.cluster.spares[0], _via(ctx, cut))

    def undo():
        promoted_s = ctx.cluster.promote(fresh)
        removed_s = ctx.cluster.remove(victim)
        heal()
        learned = ctx.cluster.says_removed(victim, 10)
        ctx.cluster.retire(victim)
        ctx.log(f"      promoted node {fresh} ({promoted_s:.1f} s), removed node {victim} "
                f"({removed_s:.1f} s), which {'knew' if learned else 'did NOT know'} it "
                "within 10 s of healing")
    return f"replace node {victim} by node {fresh} (learner, joined){cut_text}", undo


KINDS = {
    "kill": kill, "pause": pause, "pause-holder": pause_holder, "partition": partition,
    "isolate-leader": isolate_leader, "bridge": bridge, "one-way": one_way, "loss": loss,
    "slow-link": slow_link, "delay": delay, "duplicate": duplicate, "netem": netem,
    "disk-stall": disk_stall, "transfer": transfer, "member-remove-add": member_remove_add,
    "member-replace": member_replace,
}
