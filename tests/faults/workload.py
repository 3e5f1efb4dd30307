"""The workload: logical clients over RESP, each one operation at a time, recording every
operation once in the history (JSON Lines, /work/notes/history_format.md; README.md).

Operations: registers (GET, SET, CAS, CASNX), unique appends, counters (INCR, INCRBY),
MULTI/EXEC transactions (a write that sets two keys to one value and increments a third, a
read of all three, MGET), and exactly-once sessions (SESSION.CALL of APPEND and INCR, MULTI
... SESSION.EXEC) retried under the same sequence number until the outcome is known.

Outcomes: an error reply starting "UNCERTAIN" or containing "may or may not have been
applied" is unknown; any other error is fail (not applied). A timeout or lost connection
after sending is unknown for a write and fail for a read (a read that did not answer
constrains nothing). A client whose operation ended unknown continues under a new client id:
its operation stays pending forever, and a client has one operation at a time.

Keys rotate every KEY_PERIOD_S seconds (r3.0 is register 0 of period 3), which keeps the
number of operations on one key, and so the checker's search, bounded.
"""

import json
import random
import threading
import time

import redis

import netns
from cluster import resp_call

KEY_PERIOD_S = 15
OP_TIMEOUT_S = 6.0       # Above the server's own bound for a request without a leader.
SESSION_DEADLINE_S = 30.0  # A session call retries this long before it ends unknown.
READS = {"get", "mget"}


def now_us():
    return time.monotonic_ns() // 1000


def is_unknown_error(text):
    return text.startswith("UNCERTAIN") or "may or may not have been applied" in text


def result_json(value):
    """A raw RESP reply as the history's JSON result."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [result_json(v) for v in value]
    if isinstance(value, Exception):
        raise redis.ResponseError(str(value))  # An error inside EXEC's reply.
    return value


class History:
    """The history file; thread-safe. Also counts outcomes and the error texts seen."""

    def __init__(self, path):
        self.file = open(path, "w")
        self.lock = threading.Lock()
        self.next_id = 0
        self.counts = {}
        self.errors = {}
        self.keys = set()

    def new_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id

    def record(self, op):
        with self.lock:
            self.file.write(json.dumps(op, separators=(",", ":")) + "\n")
            self.counts[op["status"]] = self.counts.get(op["status"], 0) + 1

    def note_error(self, text):
        with self.lock:
            key = text[:60]
            self.errors[key] = self.errors.get(key, 0) + 1

    def use_keys(self, keys):
        with self.lock:
            self.keys.update(keys)

    def close(self):
        self.file.close()


class Caller:
    """One connection at a time to some member of the cluster, and one attempt of a command
    list on it. Used by the workload's clients and by the optional workloads (expiry.py,
    lock.py). Not thread-safe: one per client.

    It starts from the first membership's client addresses (`layout`) and learns the members'
    client addresses as they change (membership faults move nodes to other hosts): each new
    connection first asks its node for RAFT.MEMBER LIST, before any request is sent on it."""

    def __init__(self, layout, rng, stale_reads):
        self.rng = rng
        self.stale_reads = stale_reads
        self.conn = None
        self.addrs = [(layout.addr(node), netns.CLIENT_PORT) for node in layout.nodes]

    def connection(self):
        """A connected redis.Connection to some node; raises on failure (nothing was sent)."""
        if self.conn is None:
            host, port = self.rng.choice(self.addrs)
            conn = redis.Connection(host=host, port=port, socket_timeout=OP_TIMEOUT_S,
                                    socket_connect_timeout=1.0)
            conn.connect()
            self.learn_members(conn)
            if self.stale_reads:
                resp_call(conn, "READONLY")  # --break stale-reads: reads served locally.
            self.conn = conn
        return self.conn

    def learn_members(self, conn):
        """The members' client addresses, as the node on `conn` knows them. A node behind
        (cut off, removed) may list old members; they refuse or fail, and the client moves
        on and asks another. A member of the first membership whose Hello the node has not
        had yet is listed without a client address (src/runtime/member.h): left out."""
        try:
            rows = resp_call(conn, "RAFT.MEMBER", "LIST")
        except redis.ResponseError:
            return  # Not a member any more: it says so to the request too.
        learned = []
        for row in rows:
            host, _, port = row[2].decode().rpartition(":")
            if host:
                learned.append((host, int(port)))
        self.addrs = learned or self.addrs

    def drop(self):
        if self.conn is not None:
            self.conn.disconnect()
            self.conn = None

    # One attempt of a command list; MULTI/EXEC is pipelined, its EXEC reply returned.

    def attempt(self, commands):
        """The reply of the last command; raises NotSent, Lost, or redis.ResponseError for an
        error reply."""
        try:
            conn = self.connection()
        except (redis.RedisError, OSError) as error:
            self.drop()
            raise NotSent(str(error)) from None
        try:
            conn.send_packed_command(conn.pack_commands(commands))
            reply = None
            for _ in commands:
                reply = conn.read_response()
            return reply
        except redis.ResponseError:
            self.drop()  # Replies of the rest of a pipeline may still be queued.
            raise
        except (redis.RedisError, OSError) as error:
            self.drop()
            raise Lost(str(error)) from None


class Client(Caller, threading.Thread):
    def __init__(self, workload, index):
        threading.Thread.__init__(self, name=f"client-{index}", daemon=True)
        Caller.__init__(self, workload.layout, random.Random(workload.seed * 1000 + index),
                        workload.stale_reads)
        self.w = workload
        self.client_id = index
        self.last_value = {}
        self.session = None
        self.sequence = 0

    # Operations.

    def run(self):
        kinds = list(OPS)
        weights = [OPS[k][0] for k in kinds]
        while not self.w.stopping.is_set():
            kind = self.rng.choices(kinds, weights)[0]
            OPS[kind][1](self)
            time.sleep(self.rng.uniform(0, 2 * self.w.think_s))
        self.drop()

    def key(self, group, k):
        return f"{group}{int((time.monotonic() - self.w.start_s) // KEY_PERIOD_S)}.{k}"

    def plain(self, f, args, commands, writes):
        op = {"id": self.w.history.new_id(), "client": self.client_id, "f": f, "args": args}
        op.update(call(self, commands, writes, self.w.history.note_error))
        self.finish(op)
        return op

    def finish(self, op):
        self.w.history.record(op)
        if op["status"] == "unknown":
            self.client_id += self.w.clients  # The pending op keeps the old id forever.

    def session_call(self, f, args, commands):
        """`commands` runs under the session (its last item names the session and sequence
        through the placeholders SID and SEQ); retried until its outcome is known."""
        op = {"id": self.w.history.new_id(), "client": self.client_id, "f": f, "args": args,
              "invoke": now_us()}
        if self.session is None and not self.open_session():
            op.update({"return": now_us(), "status": "fail"})
            return self.finish(op)
        self.sequence += 1
        filled = [[str(self.session) if a == "SID" else str(self.sequence) if a == "SEQ" else a
                   for a in command] for command in commands]
        deadline, ambiguous = time.monotonic() + SESSION_DEADLINE_S, False
        while time.monotonic() < deadline and not self.w.stopping.is_set():
            try:
                result = result_json(self.attempt(filled))
                op.update({"return": now_us(), "status": "ok", "result": result})
                return self.finish(op)
            except NotSent:
                pass
            except Lost:
                ambiguous = True
            except redis.ResponseError as error:
                text = str(error)
                self.w.history.note_error(text)
                ambiguous = ambiguous or is_unknown_error(text)
                if text.startswith("SESSION_EXPIRED"):
                    self.session = None
                if not text.startswith("TRYAGAIN"):
                    break
            time.sleep(self.rng.uniform(0.05, 0.3))
        op.update({"return": None if ambiguous else now_us(),
                   "status": "unknown" if ambiguous else "fail"})
        self.finish(op)

    def open_session(self):
        try:
            self.session = int(self.attempt([["SESSION.OPEN"]]))
            self.sequence = 0
            return True
        except (NotSent, Lost, redis.ResponseError):
            return False  # An unknown open leaves at most an unused session behind.

    def unique(self):
        return f"v{self.client_id}-{self.w.history.new_id()}"


class NotSent(Exception):
    """The connection failed before the request was written: certainly not applied."""


class Lost(Exception):
    """The request was written; then a timeout or a lost connection: outcome unknown."""


def call(caller, commands, writes, note_error):
    """One attempt of `commands` through `caller`, classified as the README's "Outcomes" say:
    {"invoke", "return", "status", and "result" when ok}. note_error(text) sees every error
    reply."""
    op = {"invoke": now_us()}
    try:
        result = result_json(caller.attempt(commands))
        op.update({"return": now_us(), "status": "ok", "result": result})
    except NotSent:
        op.update({"return": now_us(), "status": "fail"})
    except redis.ResponseError as error:
        note_error(str(error))
        unknown = writes and is_unknown_error(str(error))
        op.update({"return": None if unknown else now_us(),
                   "status": "unknown" if unknown else "fail"})
    except Lost:
        op.update({"return": None if writes else now_us(),
                   "status": "unknown" if writes else "fail"})
    return op


def op_get(c):
    key = c.key("r", c.rng.randrange(3))
    c.w.history.use_keys([key])
    op = c.plain("get", [key], [["GET", key]], writes=False)
    if op["status"] == "ok":
        c.last_value[key] = op["result"]


def op_set(c):
    key, value = c.key("r", c.rng.randrange(3)), c.unique()
    c.w.history.use_keys([key])
    if c.plain("set", [key, value], [["SET", key, value]], writes=True)["status"] == "ok":
        c.last_value[key] = value


def op_cas(c):
    key, new = c.key("r", c.rng.randrange(3)), c.unique()
    expected = c.last_value.get(key) or "none"
    c.w.history.use_keys([key])
    op = c.plain("cas", [key, expected, new], [["CAS", key, expected, new]], writes=True)
    if op["status"] == "ok" and op["result"] == 1:
        c.last_value[key] = new


def op_casnx(c):
    key, value = c.key("r", c.rng.randrange(3)), c.unique()
    c.w.history.use_keys([key])
    c.plain("casnx", [key, value], [["CASNX", key, value]], writes=True)


def op_append(c):
    key, token = c.key("a", c.rng.randrange(2)), c.unique() + ";"
    c.w.history.use_keys([key])
    c.plain("append", [key, token], [["APPEND", key, token]], writes=True)


def op_incr(c):
    key = c.key("n", c.rng.randrange(2))
    c.w.history.use_keys([key])
    if c.rng.random() < 0.7:
        c.plain("incr", [key], [["INCR", key]], writes=True)
    else:
        delta = str(c.rng.randint(-5, 20))
        c.plain("incrby", [key, delta], [["INCRBY", key, delta]], writes=True)


def op_counter_get(c):
    key = c.key("n", c.rng.randrange(2))
    c.w.history.use_keys([key])
    c.plain("get", [key], [["GET", key]], writes=False)


def txn_keys(c):
    return [c.key("t", "x"), c.key("t", "y"), c.key("t", "z")]


def op_txn_write(c):
    x, y, z = txn_keys(c)
    value = c.unique()
    subs = [["set", x, value], ["set", y, value], ["incr", z]]
    c.w.history.use_keys([x, y, z])
    c.plain("txn", subs, [["MULTI"], ["SET", x, value], ["SET", y, value], ["INCR", z],
                          ["EXEC"]], writes=True)


def op_txn_read(c):
    x, y, z = txn_keys(c)
    c.w.history.use_keys([x, y, z])
    if c.rng.random() < 0.5:
        c.plain("mget", [x, y], [["MGET", x, y]], writes=False)
    else:
        subs = [["get", x], ["get", y], ["get", z]]
        c.plain("txn", subs, [["MULTI"], ["GET", x], ["GET", y], ["GET", z], ["EXEC"]],
                writes=False)


def op_session_append(c):
    key, token = c.key("s", "a"), c.unique() + ";"
    c.w.history.use_keys([key])
    c.session_call("append", [key, token], [["SESSION.CALL", "SID", "SEQ", "APPEND", key, token]])


def op_session_incr(c):
    key = c.key("s", "n")
    c.w.history.use_keys([key])
    c.session_call("incr", [key], [["SESSION.CALL", "SID", "SEQ", "INCR", key]])


def op_session_txn(c):
    counter, log, token = c.key("s", "n"), c.key("s", "a"), c.unique() + ";"
    c.w.history.use_keys([counter, log])
    c.session_call("txn", [["incr", counter], ["append", log, token]],
                   [["MULTI"], ["INCR", counter], ["APPEND", log, token],
                    ["SESSION.EXEC", "SID", "SEQ"]])


OPS = {  # name: (weight, function)
    "get": (14, op_get), "set": (10, op_set), "cas": (8, op_cas), "casnx": (3, op_casnx),
    "append": (10, op_append), "incr": (8, op_incr), "counter_get": (4, op_counter_get),
    "txn_write": (5, op_txn_write), "txn_read": (5, op_txn_read),
    "session_append": (6, op_session_append), "session_incr": (4, op_session_incr),
    "session_txn": (3, op_session_txn),
}


class Workload:
    def __init__(self, layout, history_path, seed, clients, stale_reads, think_s):
        self.layout = layout
        self.history = History(history_path)
        self.seed = seed
        self.clients = clients
        self.stale_reads = stale_reads
        self.think_s = think_s
        self.stopping = threading.Event()
        self.start_s = time.monotonic()
        self.threads = [Client(self, i) for i in range(1, clients + 1)]

    def start(self):
        self.start_s = time.monotonic()
        for thread in self.threads:
            thread.start()

    def stop(self):
        """Lets every client finish its current operation (bounded by the timeouts)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(SESSION_DEADLINE_S + OP_TIMEOUT_S + 5)
            assert not thread.is_alive(), f"{thread.name} did not stop"
