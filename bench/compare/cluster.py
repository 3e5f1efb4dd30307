#!/usr/bin/env python3
"""Finds the leader of a local raftkv or etcd cluster, for bench/compare.sh.

    cluster.py --system raftkv|etcd --endpoints H:P,H:P,H:P [--wait SECONDS] [--any]
               [--tls-dir DIR]

Asks every endpoint for its view of the cluster: raftkv through INFO's `# Raft` section over
RESP (the client port), etcd through `POST /v3/maintenance/status` on its client URL (the
gRPC gateway; etcdctl is not needed). The cluster is healthy when every endpoint answers,
all name the same leader, and that leader is one of the endpoints and says so itself. With
--any, nodes that do not answer are skipped (a cluster with one node down still has a
leader). Retries every 100 ms for up to --wait seconds (default 0: one look). --tls-dir (etcd
only): its client URLs are https, verified against DIR/ca.crt, with DIR/client.crt as the
client certificate (a `raftkv cluster start --tls` directory).

Prints, on success, one line: the leader's 1-based position in --endpoints, a space, and the
endpoints reordered with the leader first (what raftkv-bench takes as --endpoints). Exits 1
with the reason on stderr when the cluster is not healthy in time.
"""

import argparse
import json
import socket
import ssl
import sys
import time
import urllib.request

TIMEOUT_S = 1.0


def raftkv_view(endpoint):
    """(own id, leader id, role) from INFO over RESP; raises OSError/ValueError on failure."""
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"*1\r\n$4\r\nINFO\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed")
            data += chunk
        header, _, data = data.partition(b"\r\n")
        if not header.startswith(b"$"):
            raise ValueError("INFO: " + header.decode(errors="replace"))
        length = int(header[1:])
        while len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed")
            data += chunk
    fields = {}
    for line in data[:length].decode().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    leader = fields.get("leader_id", "")
    return fields["node_id"], ("" if leader in ("", "0", "-") else leader), fields["role"]


def etcd_view(endpoint, tls_dir=None):
    """(own member id, leader member id, role) from etcd's maintenance status."""
    scheme, context = "http", None
    if tls_dir:
        scheme = "https"
        context = ssl.create_default_context(cafile=f"{tls_dir}/ca.crt")
        context.load_cert_chain(f"{tls_dir}/client.crt", f"{tls_dir}/client.key")
    request = urllib.request.Request(f"{scheme}://{endpoint}/v3/maintenance/status",
                                     data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:
        status = json.load(response)
    own = status["header"]["member_id"]
    leader = status.get("leader", "")
    leader = "" if leader in ("", "0") else leader
    return own, leader, ("leader" if own == leader else "follower")


def look(system, endpoints, allow_down, tls_dir=None):
    """Returns (leader position, reason); position is None when not healthy."""
    view = raftkv_view if system == "raftkv" else lambda e: etcd_view(e, tls_dir)
    views = {}
    for position, endpoint in enumerate(endpoints, start=1):
        try:
            views[position] = view(endpoint)
        except (OSError, ValueError, KeyError) as error:
            if not allow_down:
                return None, f"{endpoint} does not answer: {error}"
    if not views:
        return None, "no endpoint answers"
    leaders = {leader for _, leader, _ in views.values()}
    if len(leaders) != 1 or "" in leaders:
        return None, f"no agreed leader: {sorted(leaders)}"
    leader = leaders.pop()
    for position, (own, _, role) in views.items():
        if own == leader:
            if role != "leader":
                return None, f"{endpoints[position - 1]} is named leader but is {role}"
            return position, ""
    return None, f"leader {leader} is not among the endpoints that answer"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=["raftkv", "etcd"], required=True)
    parser.add_argument("--endpoints", required=True)
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--any", action="store_true")
    parser.add_argument("--tls-dir")
    args = parser.parse_args()
    endpoints = args.endpoints.split(",")
    deadline = time.monotonic() + args.wait
    while True:
        position, reason = look(args.system, endpoints, args.any, args.tls_dir)
        if position is not None:
            ordered = [endpoints[position - 1]] + [
                e for i, e in enumerate(endpoints, start=1) if i != position]
            print(position, ",".join(ordered))
            return 0
        if time.monotonic() >= deadline:
            print(f"cluster.py: {args.system} not healthy: {reason}", file=sys.stderr)
            return 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
