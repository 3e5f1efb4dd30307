"""The nodes of one run: raftkv-server and its frame proxy in each node namespace, the
iptables rules and qdiscs the faults install there, and INFO over RESP.

Runs in the client namespace (netns.enter); reaches node namespaces with `ip netns exec`.
Every process it starts is in a session of its own, so a Ctrl-C reaches only the
orchestrator, which then stops them by pid (and netns.teardown kills whatever is left).
"""

import json
import os
import signal
import socket
import subprocess
import time

import redis

import netns

PROXY_MARK = 0x2A  # The proxy's own dials carry it, so that the REDIRECT rule skips them.
FAULT_CHAIN = "FAULTS"
# The servers' peer stall bound at the default --election-ms (src/server/main.cc: twice the
# election timeout, at least 1 s); the proxies apply it to the connections they dial.
PEER_STALL_MS = 2000


def resp_call(conn, *args):
    """One command on a redis.Connection; returns the raw reply, raises redis errors."""
    conn.send_command(*args)
    return conn.read_response()


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


class Node:
    def __init__(self, node_id, data_dir, log_path):
        self.id = node_id
        self.data_dir = data_dir
        self.log_path = log_path
        self.process = None
        self.paused = False
        self.killed = False  # By a fault: its exit is expected until the next start.

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


class Cluster:
    def __init__(self, layout, server_command, work_dir, results_dir, seed, disk_hook=None):
        """server_command: the server binary and any flags beyond those the layout sets;
        disk_hook: the slow-disk command (README.md, "Slow disk"), or None."""
        self.layout = layout
        self.disk_hook = disk_hook
        self.server_command = server_command
        self.work_dir = work_dir
        self.results_dir = results_dir
        self.seed = seed
        self.nodes = {n: Node(n, os.path.join(work_dir, f"data-{n}"),
                              os.path.join(results_dir, f"node-{n}.log"))
                      for n in layout.nodes}
        self.proxies = {}

    # Processes.

    def _spawn(self, ns, args, log_path):
        log = open(log_path, "ab")
        try:
            return subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def server_args(self, node):
        addr = self.layout.addr(node.id)
        return [*self.server_command, "--id", str(node.id), "--data-dir", node.data_dir,
                "--peers", self.layout.peers_flag(),
                "--client-addr", f"{addr}:{netns.CLIENT_PORT}",
                "--http-addr", f"{addr}:{netns.HTTP_PORT}",
                "--cluster-name", f"faults-{self.layout.run_id}",
                # The clients live on another host (10.213.0.100) of the suite's private
                # bridge; with no password set, protected mode would refuse them.
                "--protected-mode", "no"]

    def start(self, node_id):
        node = self.nodes[node_id]
        assert not node.running, f"node {node_id} already runs"
        node.process = self._spawn(self.layout.node_ns(node_id), self.server_args(node),
                                   node.log_path)
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
        procs = [n.process for n in self.nodes.values() if n.running] + \
                [p for p in self.proxies.values() if p.poll() is None]
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

    def disk(self, node_id, action):
        """Runs `disk_hook ACTION NODE DATA_DIR` (mount, stall, resume, unmount); False when
        there is no hook. Raises CalledProcessError when the hook fails."""
        if not self.disk_hook:
            return False
        subprocess.run([self.disk_hook, action, str(node_id), self.nodes[node_id].data_dir],
                       check=True)
        return True

    # Network setup and faults.

    def _rules(self, node_id, lines):
        """Replaces node_id's fault chain with `lines` (iptables-restore syntax, "-A" omitted)."""
        text = "*filter\n" + f"-F {FAULT_CHAIN}\n"
        text += "".join(f"-A {FAULT_CHAIN} {line}\n" for line in lines) + "COMMIT\n"
        subprocess.run(["ip", "netns", "exec", self.layout.node_ns(node_id),
                        "iptables-restore", "--noflush"], input=text, text=True, check=True)

    def prepare_network(self, node_id):
        """The fault chain (empty), the REDIRECT into the proxy, and the proxy itself."""
        ns = self.layout.node_ns(node_id)
        netns.in_ns(ns, "iptables", "-N", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-A", "INPUT", "-j", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-A", "OUTPUT", "-j", FAULT_CHAIN)
        netns.in_ns(ns, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp",
                    "-d", netns.SUBNET_PREFIX + "0/24", "--dport", str(netns.PEER_PORT),
                    "-m", "mark", "!", "--mark", str(PROXY_MARK),
                    "-j", "REDIRECT", "--to-ports", str(netns.PROXY_PORT))
        control = self.proxy_socket(node_id)
        here = os.path.dirname(os.path.abspath(__file__))
        self.proxies[node_id] = self._spawn(
            ns, ["/usr/bin/python3", "-B", os.path.join(here, "proxy.py"),
                 "--source", self.layout.addr(node_id), "--port", str(netns.PROXY_PORT),
                 "--mark", str(PROXY_MARK), "--control", control,
                 "--seed", str(self.seed * 100 + node_id), "--stall-ms", str(PEER_STALL_MS)],
            os.path.join(self.results_dir, f"proxy-{node_id}.log"))
        deadline = time.monotonic() + 10
        while not os.path.exists(control):
            assert time.monotonic() < deadline, f"proxy {node_id} did not start"
            time.sleep(0.05)

    def proxy_socket(self, node_id):
        return os.path.join(self.work_dir, f"proxy-{node_id}.sock")

    def proxy_set(self, node_id, **faults):
        """Sets the proxy's faults; returns its counters."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.proxy_socket(node_id))
            sock.sendall((json.dumps(faults) + "\n").encode())
            reply = json.loads(sock.makefile().readline())
        assert "error" not in reply, reply
        return reply

    def cut(self, pairs):
        """Drops every packet between each (a, b) of `pairs`, both ways; replaces the rules
        of every node (so an empty list heals)."""
        rules = {n: [] for n in self.nodes}
        for a, b in pairs:
            rules[a] += [f"-s {self.layout.addr(b)} -j DROP", f"-d {self.layout.addr(b)} -j DROP"]
            rules[b] += [f"-s {self.layout.addr(a)} -j DROP", f"-d {self.layout.addr(a)} -j DROP"]
        self._apply(rules)

    def cut_one_way(self, links):
        """For each (src, dst): src can no longer send to dst, while dst still sends to src.
        Peer connections carry messages one way (the dialer writes), so blocking src's
        connections to dst's peer port is exactly that."""
        rules = {n: [] for n in self.nodes}
        port = netns.PEER_PORT
        for src, dst in links:
            rules[src].append(f"-d {self.layout.addr(dst)} -p tcp --dport {port} -j DROP")
            rules[dst].append(f"-s {self.layout.addr(src)} -p tcp --dport {port} -j DROP")
        self._apply(rules)

    def lossy(self, probability):
        """Each node drops that share of the packets it receives from other nodes."""
        rules = {n: [f"-s {self.layout.addr(peer)} -m statistic --mode random "
                     f"--probability {probability} -j DROP"
                     for peer in self.nodes if peer != n] for n in self.nodes}
        self._apply(rules)

    def _apply(self, rules):
        for node_id, lines in rules.items():
            self._rules(node_id, lines)

    def shape(self, node_id, rate, latency):
        """tbf on node_id's egress: at most `rate`, queueing up to `latency` before drops."""
        netns.in_ns(self.layout.node_ns(node_id), "tc", "qdisc", "replace", "dev", "eth0",
                    "root", "tbf", "rate", rate, "burst", "16kb", "latency", latency)

    def unshape(self, node_id):
        netns.in_ns(self.layout.node_ns(node_id), "tc", "qdisc", "del", "dev", "eth0",
                    "root", check=False)

    def netem(self, node_id, *params):
        """Tries netem on node_id's egress; returns None, or why it is unavailable."""
        done = subprocess.run(["ip", "netns", "exec", self.layout.node_ns(node_id), "tc",
                               "qdisc", "replace", "dev", "eth0", "root", "netem", *params],
                              capture_output=True, text=True)
        return None if done.returncode == 0 else done.stderr.strip()

    def heal(self):
        """Every network fault off, every paused node resumed, every dead node restarted.
        Returns the proxies' counters, summed."""
        self.cut([])
        totals = {}
        for node_id, node in self.nodes.items():
            self.unshape(node_id)
            counters = self.proxy_set(node_id, delay_ms=0, jitter_ms=0, reorder=0.0,
                                      duplicate=0.0)
            for name, value in counters.items():
                totals[name] = totals.get(name, 0) + value
            if node.paused:
                self.signal(node_id, signal.SIGCONT)
            if not node.running:
                self.start(node_id)
        return totals

    # Observation.

    def info(self, node_id, timeout_s=1.0):
        """INFO of node_id as a dict, or None when it does not answer in time."""
        conn = redis.Connection(host=self.layout.addr(node_id), port=netns.CLIENT_PORT,
                                socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        try:
            return parse_info(resp_call(conn, "INFO").decode())
        except (redis.RedisError, OSError):
            return None
        finally:
            conn.disconnect()

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
