"""A fault-injecting proxy for raftkv's peer connections, one per node namespace.

Why: this kernel has no netem qdisc, and netem works on packets anyway, which TCP hides from
the servers. Delay, reordering and duplication of whole messages need a hop that understands
the frames (src/net/peer_frame.h): first the Hello, a 4-byte little-endian length and a
PeerEnvelope (proto/peer.proto); then batch frames, two 4-byte lengths (envelope, entry data),
the envelope and the entries' data.

How it sits in the path: the node namespace's nat OUTPUT chain REDIRECTs the server's outgoing
connections to peer ports here (netns.PROXY_PORT). The proxy recovers the original destination
(SO_ORIGINAL_DST), dials it bound to the node's own address, so the receiver and every
partition rule still see the node as the source, and marks its socket (SO_MARK) so that the
REDIRECT rule skips it. A peer connection carries frames one way (dialer to acceptor); the
acceptor never writes, and the proxy only relays the close. A node dials each peer twice, one
connection per lane (control and bulk, src/net/peer_transport.h); the proxy relays each on its
own, so each lane keeps its order and frames cross between lanes as they would on the wire.

The server gives up on a dial, or on a connection whose data goes unacknowledged, after its
stall bound (TCP_USER_TIMEOUT), and redials. Its own connection ends here, on loopback, where
nothing stalls; so the proxy applies the same bound (--stall-ms) to the connection it dials,
and closing that closes the server's, which then redials as it would without the proxy.

Faults (set at run time through the control socket, one JSON object per line):
  {"delay_ms": D, "jitter_ms": J, "reorder": P, "duplicate": Q}
Every frame but the Hello is held D + uniform(0, J) ms, so frames overtake each other when J
exceeds their spacing; with probability P a frame is held another D + J + 50 ms, which makes
later frames overtake it for certain. With probability Q a frame is sent twice (each copy with
its own delay), but only when it carries Raft messages alone: Raft must tolerate duplicated
messages, while a duplicated ForwardRequest would run a client's command twice, which no
network under TCP does. Any reply is the counters so far, as one JSON line.
"""

import argparse
import asyncio
import heapq
import json
import random
import socket
import struct
import time

SO_ORIGINAL_DST = 80
SO_MARK = 36
FRAME_BYTES_MAX = 256 << 20
QUEUED_BYTES_MAX = 64 << 20  # Per connection; reading pauses past it.
# When the destination refuses, the server's connection to the proxy has already succeeded,
# so the server's reconnect backoff starts again at its minimum (20 ms) instead of growing as
# it would against the refusal itself. Holding the accepted connection a while before closing
# keeps redials of a dead peer at a few per second, like the server's own backoff would.
DIAL_FAILURE_HOLD_S = 0.25


def original_destination(sock):
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    return socket.inet_ntoa(raw[4:8]), struct.unpack_from("!H", raw, 2)[0]


def _varint(data, pos):
    value = 0
    for shift in range(0, 64, 7):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise ValueError("varint too long")


def fields(data):
    """Top-level protobuf fields of `data` as (number, wire type, value); raises ValueError
    or IndexError on malformed input."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("field past the end")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def only_raft_messages(payload):
    """True when the envelope is a PeerBatch (field 4) whose fields are all `messages` (1) and
    the lengths of their entries' data (6)."""
    try:
        for number, wire, value in fields(payload):
            if number != 4 or wire != 2:
                return False
            if any(inner not in (1, 6) for inner, _, _ in fields(value)):
                return False
        return True
    except (ValueError, IndexError):
        return False


class Link:
    """One relayed connection's outgoing queue: frames ordered by when they are due."""

    def __init__(self):
        self.heap = []  # (due_s, seq, frame)
        self.queued_bytes = 0
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.seq = 0
        self.highest_sent = -1


class Proxy:
    def __init__(self, source, mark, rng, stall_ms):
        self.source = source
        self.mark = mark
        self.rng = rng
        self.stall_ms = stall_ms
        self.faults = {"delay_ms": 0, "jitter_ms": 0, "reorder": 0.0, "duplicate": 0.0}
        self.counters = {"connections": 0, "frames": 0, "delayed": 0, "reordered": 0,
                         "duplicated": 0, "dial_failures": 0}

    def hold_s(self):
        delay = self.faults["delay_ms"] + self.rng.uniform(0, self.faults["jitter_ms"])
        if self.rng.random() < self.faults["reorder"]:
            delay += self.faults["delay_ms"] + self.faults["jitter_ms"] + 50
        return delay / 1000.0

    def enqueue(self, link, frame, payload):
        copies = 1
        if link.seq > 0 and self.rng.random() < self.faults["duplicate"]:
            if only_raft_messages(payload):
                copies = 2
                self.counters["duplicated"] += 1
        for _ in range(copies):
            hold = self.hold_s() if link.seq > 0 else 0.0  # The Hello goes first, at once.
            if hold > 0:
                self.counters["delayed"] += 1
            heapq.heappush(link.heap, (time.monotonic() + hold, link.seq, frame))
            link.seq += 1
            link.queued_bytes += len(frame)
        self.counters["frames"] += 1
        link.wake.set()

    async def read_frames(self, reader, link):
        header = await reader.readexactly(4)  # The Hello: its length, then the envelope.
        envelope_bytes, data_bytes = int.from_bytes(header, "little"), 0
        while True:
            if envelope_bytes + data_bytes > FRAME_BYTES_MAX:
                raise ValueError(f"frame of {envelope_bytes} + {data_bytes} bytes")
            envelope = await reader.readexactly(envelope_bytes)
            data = await reader.readexactly(data_bytes)
            self.enqueue(link, header + envelope + data, envelope)
            header = await reader.readexactly(8)  # A batch: envelope and entry data lengths.
            envelope_bytes = int.from_bytes(header[:4], "little")
            data_bytes = int.from_bytes(header[4:], "little")
            while link.queued_bytes > QUEUED_BYTES_MAX:
                link.drained.clear()
                await link.drained.wait()

    async def write_frames(self, writer, link):
        while True:
            if not link.heap:
                link.wake.clear()
                await link.wake.wait()
                continue
            wait_s = link.heap[0][0] - time.monotonic()
            if wait_s > 0:
                link.wake.clear()
                try:  # A new frame may be due earlier: wake for it too.
                    await asyncio.wait_for(link.wake.wait(), wait_s)
                except asyncio.TimeoutError:
                    pass
                continue
            _, seq, frame = heapq.heappop(link.heap)
            if seq < link.highest_sent:
                self.counters["reordered"] += 1
            link.highest_sent = max(link.highest_sent, seq)
            link.queued_bytes -= len(frame)
            link.drained.set()
            writer.write(frame)
            await writer.drain()

    @staticmethod
    async def relay_close(reader, writer):
        """The acceptor never writes; whatever it sends (nothing, or the close) goes back."""
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    async def dial(self, destination):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_MARK, self.mark)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, self.stall_ms)
        sock.bind((self.source, 0))
        sock.setblocking(False)
        try:
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.sock_connect(sock, destination), self.stall_ms / 1000)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    async def handle(self, reader, writer):
        self.counters["connections"] += 1
        destination = original_destination(writer.get_extra_info("socket"))
        try:
            up_reader, up_writer = await self.dial(destination)
        except (OSError, asyncio.TimeoutError):
            self.counters["dial_failures"] += 1  # The server sees a close and redials.
            await asyncio.sleep(DIAL_FAILURE_HOLD_S)
            writer.close()
            return
        link = Link()
        tasks = [asyncio.create_task(self.read_frames(reader, link)),
                 asyncio.create_task(self.write_frames(up_writer, link)),
                 asyncio.create_task(self.relay_close(up_reader, writer))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in (writer, up_writer):
            stream.close()

    async def control(self, reader, writer):
        while line := await reader.readline():
            update = json.loads(line)
            unknown = set(update) - set(self.faults)
            if unknown:
                writer.write((json.dumps({"error": f"unknown {sorted(unknown)}"}) + "\n").encode())
            else:
                self.faults.update(update)
                writer.write((json.dumps(self.counters) + "\n").encode())
            await writer.drain()
        writer.close()


async def serve(args):
    proxy = Proxy(args.source, args.mark, random.Random(args.seed), args.stall_ms)
    relay = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port)
    control = await asyncio.start_unix_server(proxy.control, args.control)
    print(f"proxy: relaying peer connections of {args.source} on 127.0.0.1:{args.port}",
          flush=True)
    async with relay, control:
        await asyncio.gather(relay.serve_forever(), control.serve_forever())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="the node's own address")
    parser.add_argument("--port", type=int, required=True, help="where REDIRECT sends")
    parser.add_argument("--mark", type=int, required=True, help="SO_MARK the REDIRECT skips")
    parser.add_argument("--control", required=True, help="unix socket path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stall-ms", type=int, required=True,
                        help="the server's stall bound: dial timeout and TCP_USER_TIMEOUT")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
