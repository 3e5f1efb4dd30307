"""The fault suite's own parts, without root or a cluster:
python3 -m unittest discover -s tests/faults -p '*_test.py'"""

import asyncio
import json
import random
import tempfile
import unittest

import checks
import cluster
import expiry
import lock
import netns
import proxy
import redis
import schedule
import workload


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


class ScheduleTest(unittest.TestCase):
    def test_Generate_SameSeedSameSchedule_OtherSeedOther(self):
        first = schedule.render(schedule.generate(7, 600, 5))
        self.assertEqual(first, schedule.render(schedule.generate(7, 600, 5)))
        self.assertNotEqual(first, schedule.render(schedule.generate(8, 600, 5)))

    def test_Generate_FaultsInOrderWithinTheRun(self):
        entries = schedule.generate(3, 300, 5)
        self.assertGreater(len(entries), 10)
        for before, after in zip(entries, entries[1:]):
            self.assertGreaterEqual(after.at_s, before.at_s + before.duration_s)
        self.assertLessEqual(entries[-1].at_s + entries[-1].duration_s, 290)

    def test_Parse_ReadsWhatRenderWrote(self):
        entries = schedule.generate(11, 300, 5)
        again = schedule.parse(schedule.render(entries))
        self.assertEqual(schedule.render(entries), schedule.render(again))

    def test_Parse_RefusesOverlapAndUnknownKinds(self):
        with self.assertRaisesRegex(ValueError, "starts before"):
            schedule.parse("5 10 kill\n8 2 pause\n")
        with self.assertRaisesRegex(ValueError, "unknown fault kind 'flood'"):
            schedule.parse("5 10 flood\n")
        with self.assertRaisesRegex(ValueError, "line 2"):
            schedule.parse("# comment\n5 kill\n")

    def test_CiSchedule_CoversEveryKind(self):
        import os
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ci.schedule")
        with open(path) as file:
            kinds = {entry.kind for entry in schedule.parse(file.read())}
        self.assertEqual(set(schedule.KINDS), kinds)


    def test_Generate_DrawsEveryGeneratedKind(self):
        kinds = {entry.kind for entry in schedule.generate(5, 3600, 5)}
        self.assertEqual(set(schedule.GENERATED), kinds)
        self.assertLessEqual(set(schedule.GENERATED), set(schedule.KINDS))

    def test_Parse_MembershipKindsWithTheirCut(self):
        entries = schedule.parse("5 7 member-replace target=random cut=target\n"
                                 "13 3 transfer target=2\n")
        self.assertEqual(["member-replace", "transfer"], [e.kind for e in entries])
        self.assertEqual({"target": "random", "cut": "target"}, entries[0].params)


class FakeConnection:
    """Answers RAFT.MEMBER LIST with `reply` (an exception is raised, as redis-py does)."""

    def __init__(self, reply):
        self.reply = reply
        self.sent = []

    def send_command(self, *args):
        self.sent.append(args)

    def read_response(self):
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


class MembersTest(unittest.TestCase):
    # Node 1's client address is not known yet to the node that lists it.
    LIST = [[1, b"10.213.0.11:7000", b"", b"voter"],
            [3, b"10.213.0.13:7000", b"10.213.0.13:6379", b"voter"],
            [7, b"10.213.0.16:7000", b"10.213.0.16:6379", b"learner"]]

    def test_ParseMembers_IdsAddressesRoles(self):
        self.assertEqual({1: ("", "voter"), 3: ("10.213.0.13:6379", "voter"),
                          7: ("10.213.0.16:6379", "learner")}, cluster.parse_members(self.LIST))

    def test_Caller_StartsFromTheLayoutAndLearnsTheMembers(self):
        caller = workload.Caller(netns.Layout("x", 3, spares=1), None, False)
        self.assertEqual([(netns.Layout.addr(n), netns.CLIENT_PORT) for n in (1, 2, 3)],
                         caller.addrs)
        conn = FakeConnection(self.LIST)
        caller.learn_members(conn)
        self.assertEqual([("RAFT.MEMBER", "LIST")], conn.sent)
        self.assertEqual([("10.213.0.13", 6379), ("10.213.0.16", 6379)], caller.addrs)

    def test_Caller_KeepsWhatItKnewWhenTheNodeRefuses(self):
        caller = workload.Caller(netns.Layout("x", 3), None, False)
        before = list(caller.addrs)
        caller.learn_members(FakeConnection(redis.ResponseError("TRYAGAIN removed")))
        caller.learn_members(FakeConnection([]))
        caller.learn_members(FakeConnection([[1, b"10.213.0.11:7000", b"", b"voter"]]))
        self.assertEqual(before, caller.addrs)


class OutcomeTest(unittest.TestCase):
    def test_IsUnknownError_ServerTexts(self):
        unknown = ["TRYAGAIN timed out; the write may or may not have been applied",
                   "TRYAGAIN the leader did not answer in time; a write may or may not have "
                   "been applied", "UNCERTAIN the leader stepped down"]
        not_applied = ["TRYAGAIN no leader", "TRYAGAIN busy: too many requests in flight",
                       "TRYAGAIN leadership changed before the write committed; it was not "
                       "applied", "ERR wrong number of arguments"]
        for text in unknown:
            self.assertTrue(workload.is_unknown_error(text), text)
        for text in not_applied:
            self.assertFalse(workload.is_unknown_error(text), text)


class ProxyFramesTest(unittest.TestCase):
    def test_OnlyRaftMessages_BatchOfMessages(self):
        batch = field(1, b"\x08\x01") + field(1, b"\x08\x02") + field(6, b"\x03\x00")
        self.assertTrue(proxy.only_raft_messages(field(4, batch)))

    def test_OnlyRaftMessages_NotWithForwardsOrHello(self):
        forward = field(1, b"\x08\x01") + field(2, b"\x08\x07")
        self.assertFalse(proxy.only_raft_messages(field(4, forward)))
        self.assertFalse(proxy.only_raft_messages(field(1, b"\x08\x01")))  # A Hello.
        # Version 1's batch field: not a batch any more.
        self.assertFalse(proxy.only_raft_messages(field(2, field(1, b"\x08\x01"))))

    def test_ReadFrames_HelloThenBatchFramesWithTheirEntryData(self):
        # The Hello's 4-byte header, then batch frames' 8-byte ones (src/net/peer_frame.h).
        hello = field(1, b"\x08\x02")
        batch = field(4, field(1, b"\x08\x01") + field(6, b"\x05"))
        stream = (len(hello).to_bytes(4, "little") + hello +
                  len(batch).to_bytes(4, "little") + (5).to_bytes(4, "little") + batch +
                  b"entry" + (0).to_bytes(8, "little"))
        relay = proxy.Proxy("127.0.0.1", 0, random.Random(1), 1000)

        async def read():
            reader = asyncio.StreamReader()
            reader.feed_data(stream)
            reader.feed_eof()
            link = proxy.Link()
            with self.assertRaises(asyncio.IncompleteReadError):
                await relay.read_frames(reader, link)
            return link

        link = asyncio.run(read())
        frames = [frame for _, _, frame in sorted(link.heap, key=lambda item: item[1])]
        self.assertEqual(b"".join(frames), stream)
        self.assertEqual(len(frames), 3)  # The Hello, the batch, the empty batch.
        self.assertTrue(frames[1].endswith(b"entry"))

    def test_OnlyRaftMessages_MalformedIsNot(self):
        self.assertFalse(proxy.only_raft_messages(b"\x22\x05\x0a"))  # Length past the end.
        self.assertFalse(proxy.only_raft_messages(b"\x22\x01\x0f"))  # Wire type 7 inside.


class AppendCheckTest(unittest.TestCase):
    def op(self, op_id, status, token):
        return {"id": op_id, "f": "append", "args": ["a0.0", token], "status": status}

    def test_CheckAppends_EachOutcomeItsCount(self):
        ops = [self.op(1, "ok", "v1;"), self.op(2, "unknown", "v2;"),
               self.op(3, "unknown", "v3;"), self.op(4, "fail", "v4;")]
        problems, checked = checks.check_appends(ops, {"a0.0": "v1;v3;"})
        self.assertEqual(([], 4), (problems, checked))

    def test_CheckAppends_DuplicateLostAndFailedApplied(self):
        ops = [self.op(1, "ok", "v1;"), self.op(2, "ok", "v2;"), self.op(3, "fail", "v3;"),
               self.op(4, "unknown", "v4;")]
        problems, _ = checks.check_appends(ops, {"a0.0": "v1;v1;v3;v4;v4;"})
        self.assertEqual(4, len(problems), problems)  # v1 twice, v2 lost, v3, v4 twice.

    def test_DoneWithin_OnlySucceededOperationsWhollyInside(self):
        def op(status, invoke, answer):
            return {"f": "get", "status": status, "invoke": invoke, "return": answer}
        ops = [op("ok", 10, 20), op("ok", 5, 15), op("ok", 15, 35), op("fail", 12, 14),
               op("unknown", 11, 12), op("ok", 30, 30)]
        self.assertEqual(2, checks.done_within(ops, 10, 30))

    def test_CheckAppends_InsideTransactions(self):
        txn = {"id": 9, "f": "txn", "status": "ok",
               "args": [["incr", "s0.n"], ["append", "s0.a", "v9;"]]}
        self.assertEqual(1, len(checks.check_appends([txn], {"s0.a": ""})[0]))


class TtlCheckTest(unittest.TestCase):
    """Times in microseconds; the write of x1.1 ran in [0, 10 ms] with a 1000 ms ttl, so its
    deadline lies in [1000, 1010] ms give or take the skew bound (E = 25 ms, so 2E = 50)."""

    WRITE = {"key": "x1.1", "value": "v", "ttl_ms": 1000, "cmd": "set-px", "status": "ok",
             "invoke": 0, "return": 10_000}

    def judge(self, cmd, at_ms, result, took_ms=2):
        read = {"key": "x1.1", "cmd": cmd, "status": "ok", "invoke": at_ms * 1000,
                "return": (at_ms + took_ms) * 1000, "result": result}
        return expiry.judge(self.WRITE, read, 50_000, {"before": 0, "after": 0})

    def test_Judge_ValueBeforeAndNothingAfterTheDeadline(self):
        self.assertIsNone(self.judge("get", 20, "v"))
        self.assertIsNone(self.judge("get", 1100, None))
        self.assertIsNone(self.judge("pttl", 20, 985))
        self.assertIsNone(self.judge("pttl", 1100, -2))

    def test_Judge_EitherAnswerNearTheDeadline(self):
        for result in ("v", None):
            self.assertIsNone(self.judge("get", 990, result))

    def test_Judge_ExpiredValueAndEarlyMissRefused(self):
        self.assertEqual("present past its deadline", self.judge("get", 1061, "v"))
        self.assertEqual("missing before its deadline", self.judge("get", 900, None))
        self.assertEqual("present past its deadline", self.judge("pttl", 1100, 5))
        self.assertEqual("the key has no deadline", self.judge("pttl", 20, -1))

    def test_Judge_PttlInconsistentWithTheWrite(self):
        self.assertEqual("a deadline that the write's interval rules out",
                         self.judge("pttl", 100, 500))  # Deadline about 600 ms: too early.
        self.assertIsNone(self.judge("pttl", 100, 880))


class TtlLastDeadlineTest(unittest.TestCase):
    def test_LastDeadline_OfAcknowledgedWritesPlusTheSkewBound(self):
        ops = [{"key": "a", "cmd": "set-px", "status": "ok", "return": 5_000, "ttl_ms": 3000},
               {"key": "b", "cmd": "pexpire", "status": "ok", "return": 9_000, "ttl_ms": 500},
               {"key": "c", "cmd": "pexpire", "status": "unknown", "return": 9_000,
                "ttl_ms": 9000},
               {"key": "a", "cmd": "get", "status": "ok", "return": 8_000_000}]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as file:
            file.write("".join(json.dumps(op) + "\n" for op in ops))
            file.flush()
            self.assertEqual(5_000 + 3_050_000, expiry.last_deadline_us(file.name))


class LockCheckTest(unittest.TestCase):
    def write(self, entry, status, why=""):
        return {"op": "write", "id": entry, "token": int(entry.split(":")[0]),
                "status": status, "why": why}

    def grant(self, token, invoke_ms, return_ms, client=1):
        return {"op": "grant", "token": token, "client": client, "status": "ok",
                "result": "OK", "invoke": invoke_ms * 1000, "return": return_ms * 1000}

    def test_Check_FencedHistoryPasses(self):
        ops = [self.grant(1, 0, 5), self.grant(3, 1000, 1010, 2), self.write("1:1-1", "ok"),
               self.write("3:2-1", "ok"), self.write("1:1-2", "fail", "refused: fence 3"),
               self.write("3:2-2", "unknown")]
        problems, counts = lock.check(ops, "1:1-1;3:2-1;")
        self.assertEqual([], problems)
        self.assertEqual(1, counts["refused"])

    def test_Check_StaleWriteApplied(self):
        ops = [self.grant(1, 0, 5), self.grant(3, 1000, 1010, 2), self.write("3:2-1", "ok"),
               self.write("1:1-2", "ok")]
        problems, _ = lock.check(ops, "3:2-1;1:1-2;")
        self.assertEqual(2, len(problems), problems)  # A smaller token, an older lease.
        self.assertIn("stale write applied: 1:1-2 after 3:2-1", problems[0])
        self.assertIn("stale write applied: 1:1-2 under a lease granted before", problems[1])

    def test_Check_OlderLeaseWithLargerTokenAfterNewer(self):
        # A lock that draws the token before the lease (examples/lock did, until the suite
        # found this): A draws 1, B draws 2 and is granted
        # at 0 ms, A is granted after B's lease ended and writes; then B, woken, writes.
        ops = [self.grant(2, 0, 5, client=2), self.grant(1, 1400, 1405, client=1),
               self.write("1:1-1", "ok"), self.write("2:2-1", "ok")]
        problems, counts = lock.check(ops, "1:1-1;2:2-1;")
        self.assertEqual(1, len(problems), problems)
        self.assertIn("2:2-1 under a lease granted before 1:1-1's", problems[0])
        self.assertEqual(1, counts["grants out of token order"])

    def test_Check_RefusedWriteAppliedAndAckedWriteLost(self):
        ops = [self.grant(2, 0, 5), self.write("2:1-1", "fail", "aborted"),
               self.write("2:1-2", "ok")]
        problems, _ = lock.check(ops, "2:1-1;")
        self.assertEqual(2, len(problems), problems)

    def test_Check_LeasesAtOnce(self):
        ops = [self.grant(1, 0, 5), self.grant(2, 900, 905)]  # At most 905 ms apart.
        problems, _ = lock.check(ops, "")
        self.assertEqual(1, len(problems), problems)
        self.assertIn("tokens 1 and 2 leased at once", problems[0])


if __name__ == "__main__":
    unittest.main()
