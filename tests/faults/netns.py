"""The suite's test hosts: one network namespace per node, one for the clients, one holding
the bridge that joins them. Nothing is created in the caller's namespace, so concurrent runs
(whose names carry their own run id) cannot collide, even on addresses, and deleting the
namespaces removes every link, address, iptables rule and qdisc the run made.

Layout of run ID with N nodes and S spare hosts:
  rkvf-ID-net   bridge br0; one veth port per host ("pH" for node host H, "pc" the clients)
  rkvf-ID-nH    node host H (1..N+S): eth0 = 10.213.0.(10+H)/24, a server and its frame
                proxy. Node i of the first membership starts on host i; hosts N+1..N+S start
                empty, for the nodes that membership faults add (schedule.py).
  rkvf-ID-c     the clients and the orchestrator: eth0 = 10.213.0.100/24
"""

import ctypes
import os
import subprocess
import time

SUBNET_PREFIX = "10.213.0."
CLIENT_ADDR = SUBNET_PREFIX + "100"
PEER_PORT = 7000
CLIENT_PORT = 6379
HTTP_PORT = 8080
PROXY_PORT = 7999
CLONE_NEWNET = 0x40000000


def prefix(run_id):
    return f"rkvf-{run_id}-"


class Layout:
    """Names and addresses of one run's hosts. `nodes`: the first membership, node i on
    host i; `hosts`: those and the spares."""

    def __init__(self, run_id, nodes, spares=0):
        self.run_id = run_id
        self.nodes = list(range(1, nodes + 1))
        self.hosts = list(range(1, nodes + spares + 1))
        self.net_ns = prefix(run_id) + "net"
        self.client_ns = prefix(run_id) + "c"

    def host_ns(self, host):
        return f"{prefix(self.run_id)}n{host}"

    @staticmethod
    def addr(host):
        return f"{SUBNET_PREFIX}{10 + host}"

    def peers_flag(self):
        return ",".join(f"{n}={self.addr(n)}:{PEER_PORT}" for n in self.nodes)


def sh(*args, check=True):
    """Runs one command (no shell), returning its stdout; raises with stderr when it fails."""
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def in_ns(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def _add_host(layout, ns, port, addr):
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
       "peer", "name", port, "netns", layout.net_ns)
    sh("ip", "-n", layout.net_ns, "link", "set", port, "master", "br0", "up")
    sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")


def create(layout):
    sh("ip", "netns", "add", layout.net_ns)
    sh("ip", "-n", layout.net_ns, "link", "set", "lo", "up")
    sh("ip", "-n", layout.net_ns, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", layout.net_ns, "link", "set", "br0", "up")
    for host in layout.hosts:
        _add_host(layout, layout.host_ns(host), f"p{host}", layout.addr(host))
    _add_host(layout, layout.client_ns, "pc", CLIENT_ADDR)


def enter(ns):
    """Moves the calling thread (call it before starting any other) into namespace `ns`:
    threads started later inherit it, so every socket the process opens lives there."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


def teardown(run_id):
    """Kills whatever still runs in the run's namespaces (only this run's processes live
    there), then deletes them. Safe to call twice, and after a partial create()."""
    ours = [line.split()[0] for line in sh("ip", "netns", "list").splitlines()
            if line.startswith(prefix(run_id))]
    for ns in ours:
        for _ in range(50):
            pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).split()
                    if int(p) != os.getpid()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        sh("ip", "netns", "del", ns, check=False)
    return ours


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "teardown":
        sys.exit("usage: netns.py teardown RUN_ID")
    removed = teardown(sys.argv[2])
    if removed:
        print(f"faults: removed namespaces {' '.join(removed)}")
