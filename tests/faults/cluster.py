"""The nodes of one run: raftkv-server and its frame proxy in each node host's namespace, the
iptables rules and qdiscs the faults install there, INFO over RESP, and the membership
changes (RAFT.MEMBER through the leader) that move nodes between hosts.

Node ids and hosts: node i of the first membership runs on host i; a node that joins later
gets a new id (ids are never reused) and runs on a free host (a spare, or the host of the
node it replaces, wiped). Faults name nodes; rules and qdiscs live on their hosts.

Runs in the client namespace (netns.enter); reaches node namespaces with `ip netns exec`.
Every process it starts is in a session of its own, so a Ctrl-C reaches only the
orchestrator, which then stops them by pid (and netns.teardown kills whatever is left).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import redis

import disk
import netns

PROXY_MARK = 0x2A  # The proxy's own dials carry it, so that the REDIRECT rule skips them.
FAULT_CHAIN = "FAULTS"
# The servers' peer stall bound at the default --election-ms (src/server/main.cc: twice the
# election timeout, at least 1 s); the proxies apply it to the connections they dial.
PEER_STALL_MS = 2000
ADMIN_TIMEOUT_S = 5.0     # One admin request; more when the leader cannot commit.
JOIN_TIMEOUT_S = 45.0     # The server's own join retries for 30 s.
PROMOTE_TIMEOUT_S = 90.0  # Catching up: a snapshot and the log since, under the workload.
REMOVE_TIMEOUT_S = 45.0


def resp_call(conn, *args):
    """One command on a redis.Connection; returns the raw reply, raises redis errors."""
    conn.send_command(*args)
    return conn.read_response()


def parse_members(reply):
    """RAFT.MEMBER LIST's reply as {id: (client_addr, "voter" or "learner")}."""
    return {int(row[0]): (row[2].decode(), row[3].decode()) for row in reply}


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


class Node:
    def __init__(self, node_id, host, data_dir, log_path, join_addr=None):
        """join_addr: the member's client address it joined through, None for a node of the
        first membership; either way its command line stays the same across restarts."""
        self.id = node_id
        self.host = host
        self.data_dir = data_dir
        self.log_path = log_path
        self.join_addr = join_addr
        self.process = None
        self.paused = False
        self.killed = False  # By a fault: its exit is expected until the next start.

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


class Cluster:
    def __init__(self, layout, server_command, work_dir, results_dir, seed, lazyfs=None):
        """server_command: the server binary and any flags beyond those the layout sets;
        lazyfs: the lazyfs binary that mounts every host's data directory (disk.py), or
        None."""
        self.layout = layout
        self.server_command = server_command
        self.work_dir = work_dir
        self.results_dir = results_dir
        self.seed = seed
        self.data_dirs = {h: os.path.join(work_dir, f"data-h{h}") for h in layout.hosts}
        self.nodes = {n: Node(n, n, self.data_dirs[n], self.log_path(n)) for n in layout.nodes}
        self.spares = [h for h in layout.hosts if h not in self.nodes]
        self.next_id = len(layout.hosts) + 1  # Above every first id; ids are never reused.
        self.disks = disk.LazyDisks(lazyfs, work_dir, results_dir) if lazyfs else None
        self.proxies = {}

    def log_path(self, node_id):
        return os.path.join(self.results_dir, f"node-{node_id}.log")

    def addr(self, node_id):
        return self.layout.addr(self.nodes[node_id].host)

    def client_addr(self, node_id):
        return f"{self.addr(node_id)}:{netns.CLIENT_PORT}"

    def ns(self, node_id):
        return self.layout.host_ns(self.nodes[node_id].host)

    # Processes.

    def _spawn(self, ns, args, log_path):
        log = open(log_path, "ab")
        try:
            return subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def server_args(self, node):
        addr = self.layout.addr(node.host)
        membership = ["--peers", self.layout.peers_flag()] if node.join_addr is None else \
            ["--join", node.join_addr, "--peer-addr", f"{addr}:{netns.PEER_PORT}"]
        return [*self.server_command, "--id", str(node.id), "--data-dir", node.data_dir,
                *membership, "--client-addr", f"{addr}:{netns.CLIENT_PORT}",
                "--http-addr", f"{addr}:{netns.HTTP_PORT}",
                "--cluster-name", f"faults-{self.layout.run_id}",
                # The clients live on another host (10.213.0.100) of the suite's private
                # bridge; with no password set, protected mode would refuse them.
                "--protected-mode", "no"]

    def start(self, node_id):
        node = self.nodes[node_id]
        assert not node.running, f"node {node_id} already runs"
        node.process = self._spawn(self.ns(node_id), self.server_args(node), node.log_path)
        node.paused = False
        node.killed = False

    def signal(self, node_id, sig):
        node = self.nodes[node_id]
        if node.running:
            node.process.send_signal(sig)
        node.paused = sig == signal.SIGSTOP
        if sig == signal.SIGKILL and node.process is not None:
            node.killed = True
            node.process.wait()

    def unexpected_exits(self):
        """Nodes whose server exited without a fault killing it (a crash, an assertion, a
        refusal to restart), as text naming each and its exit status."""
        return [f"node {n} exited by itself (status {node.process.returncode}); see its log"
                for n, node in sorted(self.nodes.items())
                if node.process is not None and not node.running and not node.killed]

    def stop_all(self):
        """SIGCONT then SIGTERM every server and proxy; SIGKILL what is left after 10 s."""
        _stop([n.process for n in self.nodes.values() if n.running] +
              [p for p in self.proxies.values() if p.poll() is None])

    def prepare_host(self, host):
        """host's data directory (a lazyfs mount with --lazyfs), network rules and proxy."""
        os.makedirs(self.data_dirs[host])
        if self.disks:
            self.disks.mount(host, self.data_dirs[host])
        self.prepare_network(host)

    def stall_disk(self, node_id, sync_ms):
        """Every later fsync of node_id waits sync_ms (0 ends it); False without --lazyfs."""
        if not self.disks:
            return False
        self.disks.stall(self.nodes[node_id].host, sync_ms)
        return True

    # Membership: every change goes to the leader, and is retried until the leader's
    # RAFT.MEMBER LIST shows it done (a TRYAGAIN waits: a change pending, a learner behind,
    # not the leader; an UNCERTAIN is settled by the list).

    def admin(self, node_id, *args):
        """One command on node_id, its reply decoded; raises redis errors and OSError."""
        conn = self.connect(node_id, ADMIN_TIMEOUT_S)
        try:
            reply = resp_call(conn, *args)
            return reply.decode() if isinstance(reply, bytes) else reply
        finally:
            conn.disconnect()

    def members(self, node_id):
        """node_id's RAFT.MEMBER LIST (parse_members); raises redis errors and OSError."""
        return parse_members(self.admin(node_id, "RAFT.MEMBER", "LIST"))

    def change(self, args, settled, timeout_s):
        """Sends `args` (RAFT.MEMBER ...; None: only waits) to the leader until
        settled(leader's members) holds; returns the seconds it took. RuntimeError on a
        refusal (-ERR, unless the list then shows it settled) or at the timeout."""
        started, last, refused = time.monotonic(), "no leader", None
        while time.monotonic() < started + timeout_s:
            leader = self.leader()
            last = "no leader" if leader is None else last
            try:
                members = self.members(leader) if leader is not None else None
                if members is not None and settled(members):
                    return time.monotonic() - started
                if members is not None:
                    listed = ", ".join(f"{n} {role}" for n, (_, role) in sorted(members.items()))
                    last = f"node {leader} leads and lists {listed}"
                if refused:
                    raise RuntimeError(f"{' '.join(args)}: {refused}")
                if leader is not None and args:
                    self.admin(leader, *args)
            except redis.ResponseError as error:
                last = str(error)
                if not last.startswith(("TRYAGAIN", "UNCERTAIN")):
                    refused = last
            except (redis.RedisError, OSError) as error:
                last = f"node {leader}: {error}"
            time.sleep(0.3)
        what = " ".join(args) if args else "waiting"
        raise RuntimeError(f"{what}: not done within {timeout_s:g} s ({last})")

    def join(self, host, via):
        """Starts a node under a new id on the free `host` with --join through member `via`;
        returns its id once the leader lists it (as a learner). RuntimeError, quoting its
        log, when it exits or is not listed within JOIN_TIMEOUT_S."""
        assert host in self.spares, f"host {host} is not free"
        self.spares.remove(host)
        node_id, self.next_id = self.next_id, self.next_id + 1
        self.nodes[node_id] = Node(node_id, host, self.data_dirs[host], self.log_path(node_id),
                                   self.client_addr(via))
        self.start(node_id)
        node = self.nodes[node_id]
        try:
            self.change(None, lambda members: node_id in members or not node.running,
                        JOIN_TIMEOUT_S)
            if not node.running:
                raise RuntimeError(f"it exited (status {node.process.returncode})")
        except RuntimeError as error:
            raise RuntimeError(f"node {node_id} did not join: {error}; its log ends:\n"
                               f"{_tail(node.log_path)}") from None
        return node_id

    def promote(self, node_id):
        return self.change(["RAFT.MEMBER", "PROMOTE", str(node_id)],
                           lambda members: members.get(node_id, ("", ""))[1] == "voter",
                           PROMOTE_TIMEOUT_S)

    def remove(self, node_id):
        return self.change(["RAFT.MEMBER", "REMOVE", str(node_id)],
                           lambda members: node_id not in members, REMOVE_TIMEOUT_S)

    def retire(self, node_id):
        """Stops a removed node, wipes its data directory and frees its host; returns it."""
        node = self.nodes.pop(node_id)
        if node.running:
            _stop([node.process])
        for name in os.listdir(node.data_dir):  # The directory itself may be a mount point.
            path = os.path.join(node.data_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        self.spares.append(node.host)
        return node.host

    def says_removed(self, node_id, timeout_s):
        """Whether node_id reports removed:1 in INFO within timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (self.info(node_id) or {}).get("removed") == "1":
                return True
            time.sleep(0.2)
        return False

    # Network setup and faults.

    def _rules(self, host, lines):
        """Replaces host's fault chain with `lines` (iptables-restore syntax, "-A" omitted)."""
        text = "*filter\n" + f"-F {FAULT_CHAIN}\n"
        text += "".join(f"-A {FAULT_CHAIN} {line}\n" for line in lines) + "COMMIT\n"
        subprocess.run(["ip", "netns", "exec", self.layout.host_ns(host),
                        "iptables-restore", "--noflush"], input=text, text=True, check=True)

    def prepare_network(self, host):
        """The fault chain (empty), the REDIRECT into the proxy, and the proxy itself."""
        ns = self.layout.host_ns(host)
        netns.in_ns(ns, "iptables", "-N", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-A", "INPUT", "-j", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-A", "OUTPUT", "-j", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp",
                    "-d", netns.SUBNET_PREFIX + "0/24", "--dport", str(netns.PEER_PORT),
                    "-m", "mark", "!", "--mark", str(PROXY_MARK),
                    "-j", "REDIRECT", "--to-ports", str(netns.PROXY_PORT))
        control = self.proxy_socket(host)
        here = os.path.dirname(os.path.abspath(__file__))
        self.proxies[host] = self._spawn(
            ns, ["/usr/bin/python3", "-B", os.path.join(here, "proxy.py"),
                 "--source", self.layout.addr(host), "--port", str(netns.PROXY_PORT),
                 "--mark", str(PROXY_MARK), "--control", control,
                 "--seed", str(self.seed * 100 + host), "--stall-ms", str(PEER_STALL_MS)],
            os.path.join(self.results_dir, f"proxy-h{host}.log"))
        deadline = time.monotonic() + 10
        while not os.path.exists(control):
            assert time.monotonic() < deadline, f"proxy {host} did not start"
            time.sleep(0.05)

    def proxy_socket(self, host):
        return os.path.join(self.work_dir, f"proxy-h{host}.sock")

    def proxy_set(self, host, **faults):
        """Sets host's proxy faults; returns its counters."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.proxy_socket(host))
            sock.sendall((json.dumps(faults) + "\n").encode())
            reply = json.loads(sock.makefile().readline())
        assert "error" not in reply, reply
        return reply

    def cut(self, pairs):
        """Drops every packet between the nodes of each (a, b) of `pairs`, both ways;
        replaces the rules of every host (so an empty list heals)."""
        self.cut_hosts([(self.nodes[a].host, self.nodes[b].host) for a, b in pairs])

    def isolate(self, node_id):
        """Cuts node_id's host off from every other host, spares included (a node that joins
        meanwhile cannot reach it either)."""
        host = self.nodes[node_id].host
        self.cut_hosts([(host, other) for other in self.layout.hosts if other != host])

    def cut_hosts(self, pairs):
        rules = {h: [] for h in self.layout.hosts}
        addr = self.layout.addr
        for a, b in pairs:
            rules[a] += [f"-s {addr(b)} -j DROP", f"-d {addr(b)} -j DROP"]
            rules[b] += [f"-s {addr(a)} -j DROP", f"-d {addr(a)} -j DROP"]
        self._apply(rules)

    def cut_one_way(self, links):
        """For each (src, dst) of nodes: src can no longer send to dst, while dst still sends
        to src. Peer connections carry messages one way (the dialer writes), so blocking
        src's connections to dst's peer port is exactly that."""
        rules = {h: [] for h in self.layout.hosts}
        port = netns.PEER_PORT
        for src, dst in links:
            rules[self.nodes[src].host].append(f"-d {self.addr(dst)} -p tcp --dport {port} "
                                               "-j DROP")
            rules[self.nodes[dst].host].append(f"-s {self.addr(src)} -p tcp --dport {port} "
                                               "-j DROP")
        self._apply(rules)

    def lossy(self, probability):
        """Each host drops that share of the packets it receives from other hosts."""
        hosts = self.layout.hosts
        rules = {h: [f"-s {self.layout.addr(peer)} -m statistic --mode random "
                     f"--probability {probability} -j DROP"
                     for peer in hosts if peer != h] for h in hosts}
        self._apply(rules)

    def _apply(self, rules):
        for host, lines in rules.items():
            self._rules(host, lines)

    def shape(self, node_id, rate, latency):
        """tbf on node_id's egress: at most `rate`, queueing up to `latency` before drops."""
        netns.in_ns(self.ns(node_id), "tc", "qdisc", "replace", "dev", "eth0",
                    "root", "tbf", "rate", rate, "burst", "16kb", "latency", latency)

    def unshape(self, host):
        netns.in_ns(self.layout.host_ns(host), "tc", "qdisc", "del", "dev", "eth0",
                    "root", check=False)

    def netem(self, host, *params):
        """Tries netem on host's egress; returns None, or why it is unavailable."""
        done = subprocess.run(["ip", "netns", "exec", self.layout.host_ns(host), "tc",
                               "qdisc", "replace", "dev", "eth0", "root", "netem", *params],
                              capture_output=True, text=True)
        return None if done.returncode == 0 else done.stderr.strip()

    def heal(self):
        """Every network fault off, every paused node resumed, every dead node restarted.
        Returns the proxies' counters, summed."""
        self.cut([])
        totals = {}
        for host in self.layout.hosts:
            self.unshape(host)
            counters = self.proxy_set(host, delay_ms=0, jitter_ms=0, reorder=0.0,
                                      duplicate=0.0)
            for name, value in counters.items():
                totals[name] = totals.get(name, 0) + value
            if self.disks:
                self.disks.stall(host, 0)
        for node_id, node in self.nodes.items():
            if node.paused:
                self.signal(node_id, signal.SIGCONT)
            if not node.running:
                self.start(node_id)
        return totals

    # Observation.

    def connect(self, node_id, timeout_s):
        return redis.Connection(host=self.addr(node_id), port=netns.CLIENT_PORT,
                                socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    def info(self, node_id, timeout_s=1.0):
        """INFO of node_id as a dict, or None when it does not answer in time."""
        conn = self.connect(node_id, timeout_s)
        try:
            return parse_info(resp_call(conn, "INFO").decode())
        except (redis.RedisError, OSError):
            return None
        finally:
            conn.disconnect()

    def states(self):
        """One line: each node's role, term and applied index (or why it has none), so that a
        run's log shows which node fell behind or stopped answering, and when."""
        parts = []
        for node_id, node in sorted(self.nodes.items()):
            if not node.running:
                what = "killed" if node.killed or node.process is None else \
                    f"exited {node.process.returncode}"
            elif node.paused:
                what = "paused"
            else:
                info = self.info(node_id)
                what = f"{info.get('role')} t{info.get('term')} a{info.get('applied_index')}" \
                    if info else "no answer"
            parts.append(f"{node_id}: {what}")
        return ", ".join(parts)

    def warnings(self, count):
        """{node: its log's last `count` warning, error or assertion lines, as text} for the
        nodes with any: on a suite error, the first place to look (the logs stay in the
        results, which CI does not keep)."""
        found = {}
        for node_id, node in sorted(self.nodes.items()):
            if not os.path.exists(node.log_path):
                continue
            with open(node.log_path, errors="replace") as file:
                lines = [line for line in file
                         if any(word in line for word in (" warning ", " error ", "assertion"))]
            if lines:
                found[node_id] = "".join(lines[-count:]).rstrip("\n")
        return found

    def leader(self):
        """The node that says it leads in the highest term, or None."""
        best = None
        for node_id, node in self.nodes.items():
            if not node.running or node.paused:
                continue
            info = self.info(node_id)
            if info and info.get("role") == "leader":
                term = int(info["term"])
                if best is None or term > best[0]:
                    best = (term, node_id)
        return best[1] if best else None


def _stop(procs):
    """SIGCONT then SIGTERM each process; SIGKILL what is left after 10 s."""
    for proc in procs:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path, lines=10):
    with open(path, errors="replace") as file:
        return "".join(file.readlines()[-lines:])
