#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "kv/byte_codec.h"
#include "kv/state_machine.h"
#include "kv_test_util.h"

namespace raftkv::kv {
namespace {

using testing::bulk;
using testing::Driver;
using testing::integer;

// A state with keys, an empty and a large value, and sessions with remembered replies.
Driver populated() {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::mset({"a", "1", "b", "", "c", std::string(200'000, 'x')})),
            Reply::ok());
  const uint64_t client = static_cast<uint64_t>(kv.apply(Command::register_session(50)).integer);
  EXPECT_EQ(kv.apply(Command::session(client, 1, 60, Command::incr("a"))), integer(2));
  const uint64_t other = static_cast<uint64_t>(kv.apply(Command::register_session(70)).integer);
  EXPECT_EQ(kv.apply(Command::session(other, 3, 80, Command::mget({"a", "zz"}))),
            Reply::array({bulk("2"), Reply::nil()}));
  return kv;
}

Status restore_from(KvStateMachine* machine, std::string_view bytes, size_t chunk = 64 * 1024) {
  runtime::StringSource reader(bytes, chunk);
  return machine->restore(reader);
}

TEST(KvSnapshot, SaveRestore_RoundTripRestoresKeysSessionsAndIndex) {
  Driver source = populated();
  const std::string bytes = source.snapshot_bytes();
  KvStateMachine restored;
  ASSERT_TRUE(restore_from(&restored, bytes).is_ok());
  EXPECT_EQ(restored.applied_index(), source.machine().applied_index());
  EXPECT_EQ(restored.log_time_ms(), 80u);
  EXPECT_EQ(restored.key_count(), 3u);
  EXPECT_EQ(restored.session_count(), 2u);
  EXPECT_EQ(restored.query(Command::get("c")), bulk(std::string(200'000, 'x')));
  EXPECT_EQ(*restored.find_session(2), *source.machine().find_session(2));
  runtime::StringSink again;
  ASSERT_TRUE(restored.save(again).is_ok());
  EXPECT_EQ(again.data(), bytes);  // Equal states, equal bytes.
}

TEST(KvSnapshot, SaveRestore_RestoredMachineBehavesIdentically) {
  Driver source = populated();
  KvStateMachine restored;
  ASSERT_TRUE(restore_from(&restored, source.snapshot_bytes()).is_ok());
  // A retried request is still answered from the session table, not applied again.
  const std::string retry = encode_command(Command::session(2, 1, 90, Command::incr("a")));
  const Index next = source.machine().applied_index() + 1;
  EXPECT_EQ(restored.apply(next, retry), integer(2));
  EXPECT_EQ(source.machine().apply(next, retry), integer(2));
  const std::string fresh = encode_command(Command::register_session(100));
  EXPECT_EQ(restored.apply(next + 1, fresh), source.machine().apply(next + 1, fresh));
  EXPECT_EQ(restored.query(Command::get("a")), bulk("2"));
}

// A key's version (the index of its last change) is part of the state, so states are
// identical when their keys, values and last changes are.
TEST(KvSnapshot, SaveRestore_IdenticalStatesGiveIdenticalBytes) {
  Driver first;
  ASSERT_EQ(first.apply(Command::mset({"b", "2", "a", "0", "c", "3"})), Reply::ok());
  ASSERT_EQ(first.apply(Command::del({"c"})), integer(1));
  ASSERT_EQ(first.apply(Command::incr("a")), integer(1));
  Driver second;
  ASSERT_EQ(second.apply(Command::mset({"a", "0", "b", "2"})), Reply::ok());
  second.skip();
  ASSERT_EQ(second.apply(Command::incr("a")), integer(1));  // At index 3, as in `first`.
  ASSERT_EQ(first.machine().applied_index(), second.machine().applied_index());
  EXPECT_EQ(first.snapshot_bytes(), second.snapshot_bytes());
  Driver third;
  ASSERT_EQ(third.apply(Command::set("a", "1")), Reply::ok());
  ASSERT_EQ(third.apply(Command::set("b", "2")), Reply::ok());
  third.skip();
  EXPECT_NE(first.snapshot_bytes(), third.snapshot_bytes());  // Same values, other versions.
}

TEST(KvSnapshot, SaveRestore_ViewIsUnaffectedByLaterApplies) {
  Driver kv = populated();
  const std::string expected = kv.snapshot_bytes();
  const KvSnapshotView view = kv.machine().snapshot_view();
  ASSERT_EQ(kv.apply(Command::set("a", "changed")), Reply::ok());
  ASSERT_EQ(kv.apply(Command::del({"c"})), integer(1));
  ASSERT_EQ(kv.apply(Command::register_session(1'000'000)).type, ReplyType::Integer);
  runtime::StringSink writer;
  ASSERT_TRUE(view.save(writer).is_ok());
  EXPECT_EQ(writer.data(), expected);
  EXPECT_NE(kv.snapshot_bytes(), expected);
}

TEST(KvSnapshot, SaveRestore_RestoreReadsAnyChunking) {
  const std::string bytes = populated().snapshot_bytes();
  for (const size_t chunk : {size_t{1}, size_t{3}, size_t{7}, size_t{4096}, size_t{70000}}) {
    KvStateMachine restored;
    ASSERT_TRUE(restore_from(&restored, bytes, chunk).is_ok()) << chunk;
    EXPECT_EQ(restored.key_count(), 3u);
  }
}

TEST(KvSnapshot, SaveRestore_EmptyStateRoundTrips) {
  KvStateMachine empty;
  runtime::StringSink writer;
  ASSERT_TRUE(empty.save(writer).is_ok());
  KvStateMachine restored;
  ASSERT_TRUE(restore_from(&restored, writer.data()).is_ok());
  EXPECT_EQ(restored.key_count(), 0u);
  EXPECT_EQ(restored.applied_index(), Index(0));
}

// A small state, so that every byte can be damaged in turn.
std::string small_snapshot() {
  Driver kv;
  EXPECT_EQ(kv.apply(Command::mset({"a", "1", "b", "22"})), Reply::ok());
  const uint64_t client = static_cast<uint64_t>(kv.apply(Command::register_session(5)).integer);
  EXPECT_EQ(kv.apply(Command::session(client, 1, 6, Command::batch({Command::incr("a")}))),
            Reply::array({integer(2)}));
  EXPECT_EQ(kv.apply(Command::acl_setuser("u", {"on", "#" + std::string(64, 'c'), "+@read"})),
            Reply::ok());
  return kv.snapshot_bytes();
}

// The restore target keeps its previous state when a restore fails.
void expect_rejected_and_unchanged(std::string_view bytes, const std::string& what) {
  Driver target;
  ASSERT_EQ(target.apply(Command::set("keep", "me")), Reply::ok());
  const Status status = restore_from(&target.machine(), bytes, 5);
  EXPECT_EQ(status.code(), ErrorCode::Corruption) << what << ": " << status.to_string();
  EXPECT_EQ(target.query(Command::get("keep")), bulk("me")) << what;
  EXPECT_EQ(target.machine().applied_index(), Index(1)) << what;
}

TEST(KvSnapshot, Restore_DetectsEveryBitFlip) {
  const std::string bytes = small_snapshot();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      expect_rejected_and_unchanged(damaged, "flip " + std::to_string(i) + ":" +
                                                 std::to_string(bit));
    }
  }
}

TEST(KvSnapshot, Restore_RejectsEveryTruncation) {
  const std::string bytes = small_snapshot();
  for (size_t length = 0; length < bytes.size(); ++length) {
    expect_rejected_and_unchanged(std::string_view(bytes).substr(0, length),
                                  "cut at " + std::to_string(length));
  }
}

TEST(KvSnapshot, Restore_RejectsTrailingBytes) {
  expect_rejected_and_unchanged(small_snapshot() + "x", "trailing byte");
}

TEST(KvSnapshot, Restore_RejectsKeysOutOfOrderEvenWithValidChecksum) {
  std::string bytes = small_snapshot();
  // Keys "a" and "b" are one byte each, so swapping them keeps every length valid; recompute
  // the checksum so that only the order check can catch it.
  const size_t a = bytes.find(std::string("\x01\x00\x00\x00" "a", 5));
  const size_t b = bytes.find(std::string("\x01\x00\x00\x00" "b", 5));
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  std::swap(bytes[a + 4], bytes[b + 4]);
  const size_t crc_at = bytes.size() - 12;
  const auto crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(crc_at)));
  for (size_t i = 0; i < 4; ++i) bytes[crc_at + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  expect_rejected_and_unchanged(bytes, "keys out of order");
}

// The start of a hand-built snapshot: `magic`, applied index `applied`, log time 50 ms and
// the count of keys to follow.
std::string snapshot_start(std::string_view magic, uint64_t applied, uint64_t keys) {
  std::string bytes(magic);
  put_u64(&bytes, applied);
  put_u64(&bytes, 50);
  put_u64(&bytes, keys);
  return bytes;
}

// Closes a hand-built snapshot: checksum and end marker.
void finish_snapshot(std::string* bytes) {
  put_u32(bytes, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(bytes->data()),
                                             static_cast<uInt>(bytes->size()))));
  *bytes += "RKVKVEND";
}

// Snapshots written before expiry and hashes (format 1: string values only) still restore:
// as strings without deadline, at version 0. Built by hand, as that release wrote them: keys in
// key order, which is not today's hash order, so restoring re-sorts them.
TEST(KvSnapshot, Restore_ReadsFormatOne) {
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h"};
  std::string bytes = snapshot_start("RKVKVSM1", 7, keys.size());
  for (const std::string& key : keys) {
    put_string(&bytes, key);
    put_string(&bytes, "v" + key);
  }
  put_u64(&bytes, 0);  // No sessions.
  finish_snapshot(&bytes);
  KvStateMachine restored;
  ASSERT_TRUE(restore_from(&restored, bytes).is_ok());
  EXPECT_EQ(restored.applied_index(), Index(7));
  EXPECT_TRUE(restored.keys().map().check_invariants());
  for (const std::string& key : keys) {
    EXPECT_EQ(restored.query(Command::get(key)), bulk("v" + key)) << key;
  }
  EXPECT_EQ(restored.query(Command::call({"ttl", "a"})), integer(-1));
  EXPECT_EQ(restored.query(Command::versions({"a"})), Reply::array({integer(0)}));
  bytes[7] = '9';  // A format this release does not know: refused, saying so.
  const Status refused = restore_from(&restored, bytes);
  EXPECT_EQ(refused.code(), ErrorCode::Corruption);
  EXPECT_NE(refused.message().find("format"), std::string::npos) << refused.message();
}

// Format 3 kept a hash's fields in field order too: they restore re-sorted, every one found.
TEST(KvSnapshot, Restore_ReadsFormatThreeHashInFieldOrder) {
  const std::vector<std::string> fields = {"f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8"};
  std::string bytes = snapshot_start("RKVKVSM3", 9, 1);
  put_string(&bytes, "h");
  put_u8(&bytes, static_cast<uint8_t>(Value::Kind::Hash));
  put_i64(&bytes, kNoExpiry);
  put_u64(&bytes, 9);  // Version.
  put_u64(&bytes, fields.size());
  for (const std::string& field : fields) {
    put_string(&bytes, field);
    put_string(&bytes, "v" + field);
  }
  put_u64(&bytes, 0);  // No sessions.
  put_u64(&bytes, 0);  // No users.
  finish_snapshot(&bytes);
  KvStateMachine restored;
  ASSERT_TRUE(restore_from(&restored, bytes).is_ok());
  const Record* hash = restored.keys().find("h", 0);
  ASSERT_NE(hash, nullptr);
  EXPECT_TRUE(hash->hash().check_invariants());
  for (const std::string& field : fields) {
    EXPECT_EQ(restored.query(Command::call({"hget", "h", field})), bulk("v" + field)) << field;
  }
}

TEST(KvSnapshot, Restore_RandomBytesNeverCrash) {
  std::mt19937_64 random(99);
  const std::string valid = small_snapshot();
  for (int round = 0; round < 5'000; ++round) {
    std::string bytes = round % 2 == 0 ? valid.substr(0, random() % valid.size())
                                       : std::string(random() % 128, '\0');
    for (size_t i = 8; i < bytes.size(); ++i) {
      if (round % 2 == 1 || random() % 8 == 0) bytes[i] = static_cast<char>(random());
    }
    KvStateMachine target;
    EXPECT_FALSE(restore_from(&target, bytes).is_ok());
  }
}

class FailingWriter final : public runtime::ByteSink {
 public:
  [[nodiscard]] Status write(std::span<const char>) override {
    return {ErrorCode::IoError, "disk full"};
  }
};

TEST(KvSnapshot, Save_ReturnsWriterError) {
  FailingWriter writer;
  const Status status = populated().machine().save(writer);
  EXPECT_EQ(status.code(), ErrorCode::IoError);
  EXPECT_EQ(status.message(), "disk full");
}

class FailingReader final : public runtime::ByteSource {
 public:
  [[nodiscard]] Result<size_t> read(std::span<char>) override {
    return Status(ErrorCode::IoError, "read failed");
  }
};

TEST(KvSnapshot, Restore_ReturnsReaderError) {
  KvStateMachine machine;
  FailingReader reader;
  EXPECT_EQ(machine.restore(reader).code(), ErrorCode::IoError);
}

}  // namespace
}  // namespace raftkv::kv
