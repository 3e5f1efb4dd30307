#include "storage/disk_storage.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/prng.h"
#include "raft/memory_storage.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

// The newest snapshot file's data, read back through its checksum-verifying stream.
std::string newest_snapshot_data(const DiskStorage& storage) {
  Result<std::unique_ptr<runtime::SnapshotFile>> reader = storage.open_snapshot();
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  if (!reader.is_ok()) return {};
  std::string data(reader.value()->data_bytes(), '\0');
  Result<size_t> got = reader.value()->read(std::span<char>(data.data(), data.size()));
  EXPECT_TRUE(got.is_ok() && got.value() == data.size());
  return data;
}

using namespace testing;  // NOLINT: test helpers.

TEST(DiskStorage, Open_FreshDirectoryIsEmpty) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  EXPECT_EQ(storage->first_index(), Index{1});
  EXPECT_EQ(storage->last_index(), Index{0});
  EXPECT_EQ(storage->term(Index{0}).value(), Term{0});
  EXPECT_EQ(storage->hard_state(), raft::HardState{});
  Result<raft::Snapshot> snapshot = storage->snapshot();
  ASSERT_TRUE(snapshot.is_ok());
  EXPECT_TRUE(snapshot.value().is_empty());
  EXPECT_EQ(storage->term(Index{1}).status().code(), ErrorCode::NotFound);
}

TEST(DiskStorage, Append_SurvivesReopen) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs));
    ASSERT_TRUE(storage->append(make_entries(1, 11, 1)).is_ok());
    ASSERT_TRUE(storage->set_hard_state({Term{1}, NodeId{2}, Index{7}}).is_ok());
  }
  auto storage = open_or_die(sim_options(fs));
  EXPECT_EQ(storage->last_index(), Index{10});
  EXPECT_EQ(all_entries(*storage), make_entries(1, 11, 1));
  EXPECT_EQ(storage->hard_state(), (raft::HardState{Term{1}, NodeId{2}, Index{7}}));
}

TEST(DiskStorage, Append_ReplacingASuffixIsDurable) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs));
    ASSERT_TRUE(storage->append(make_entries(1, 11, 1)).is_ok());
    ASSERT_TRUE(storage->append(make_entries(6, 8, 2)).is_ok());
    EXPECT_EQ(storage->last_index(), Index{7});
  }
  auto storage = open_or_die(sim_options(fs));
  std::vector<raft::Entry> expected = make_entries(1, 6, 1);
  for (const raft::Entry& entry : make_entries(6, 8, 2)) expected.push_back(entry);
  EXPECT_EQ(all_entries(*storage), expected);
}

TEST(DiskStorage, Append_RejectsGapsAndCommitPastTheEnd) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  ASSERT_TRUE(storage->append(make_entries(1, 4, 1)).is_ok());
  EXPECT_EQ(storage->append(make_entries(6, 7, 1)).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(storage->set_hard_state({Term{1}, kNoNode, Index{4}}).code(),
            ErrorCode::InvalidArgument);
  EXPECT_TRUE(
      storage->save(make_entries(4, 5, 1), raft::HardState{Term{1}, kNoNode, Index{4}}).is_ok());
  ASSERT_TRUE(storage->append(make_entries(5, 6, 3)).is_ok());
  EXPECT_EQ(storage->append(make_entries(6, 7, 2)).code(), ErrorCode::InvalidArgument);
}

TEST(DiskStorage, Entries_RespectsBytesMaxButReturnsOne) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  ASSERT_TRUE(storage->append(make_entries(1, 11, 1, 100)).is_ok());
  Result<std::vector<raft::Entry>> one = storage->entries(Index{1}, Index{11}, 1);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one.value().size(), 1u);
  Result<std::vector<raft::Entry>> three = storage->entries(Index{1}, Index{11}, 3 * 124 + 10);
  ASSERT_TRUE(three.is_ok());
  EXPECT_EQ(three.value().size(), 3u);
}

TEST(DiskStorage, Rotation_SpreadsOverSegmentsAndReplaysThemAll) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i <= 200; i += 10) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 10, 1 + i / 50, 50)).is_ok());
    }
    EXPECT_GT(storage->stats().segments, 3u);
  }
  auto storage = open_or_die(sim_options(fs, 4096));
  EXPECT_EQ(storage->last_index(), Index{200});
  const std::vector<raft::Entry> entries = all_entries(*storage);
  ASSERT_EQ(entries.size(), 200u);
  EXPECT_EQ(entries[150].term, Term{1 + 151 / 50});
}

TEST(DiskStorage, Cache_IsBoundedAndDiskReadsMatch) {
  SimFs fs;
  DiskStorageOptions options = sim_options(fs, 1 << 20);
  options.cache_bytes_max = 2000;
  auto storage = open_or_die(options);
  ASSERT_TRUE(storage->append(make_entries(1, 101, 1, 100)).is_ok());
  EXPECT_LE(storage->details().cached_bytes, 2000u);
  EXPECT_LT(storage->details().cached_entries, 100u);
  EXPECT_EQ(all_entries(*storage), make_entries(1, 101, 1, 100));
}

TEST(DiskStorage, ReleaseCachedThrough_DropsCopiesAndDiskReadsMatch) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs, 1 << 20));
  ASSERT_TRUE(storage->append(make_entries(1, 101, 1, 100)).is_ok());
  ASSERT_EQ(storage->details().cached_entries, 100u);
  storage->release_cached_through(Index{60});
  EXPECT_EQ(storage->details().cached_entries, 40u);
  EXPECT_EQ(storage->details().cached_bytes, 40u * make_entries(1, 2, 1, 100)[0].size_bytes());
  EXPECT_EQ(all_entries(*storage), make_entries(1, 101, 1, 100));  // 1-60 from the WAL.
  storage->release_cached_through(Index{100});
  EXPECT_EQ(storage->details().cached_bytes, 0u);
  ASSERT_TRUE(storage->append(make_entries(101, 103, 1, 100)).is_ok());  // Cached again.
  EXPECT_EQ(storage->details().cached_entries, 2u);
  EXPECT_EQ(all_entries(*storage), make_entries(1, 103, 1, 100));
}

TEST(DiskStorage, Snapshot_CompactRemovesCoveredSegments) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 201; i += 5) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 50)).is_ok());
    }
    const size_t segments_before = storage->stats().segments;
    ASSERT_TRUE(storage->create_snapshot(Index{150}, {{NodeId{1}}, {}, {}}, "state@150").is_ok());
    EXPECT_EQ(storage->first_index(), Index{1});  // Entries stay until compact().
    ASSERT_TRUE(storage->compact(Index{150}).is_ok());
    EXPECT_LT(storage->stats().segments, segments_before);
    EXPECT_EQ(storage->first_index(), Index{151});
    EXPECT_EQ(storage->term(Index{150}).value(), Term{1});
    EXPECT_EQ(storage->entries(Index{150}, Index{152}, UINT64_MAX).status().code(),
              ErrorCode::NotFound);
    EXPECT_EQ(storage->compact(Index{160}).code(), ErrorCode::InvalidArgument);
  }
  auto storage = open_or_die(sim_options(fs, 4096));
  EXPECT_EQ(storage->first_index(), Index{151});
  EXPECT_EQ(storage->last_index(), Index{200});
  Result<raft::Snapshot> snapshot = storage->snapshot();
  ASSERT_TRUE(snapshot.is_ok());
  EXPECT_TRUE(snapshot.value().data.empty());  // The core gets the metadata only.
  EXPECT_EQ(snapshot.value().meta.index, Index{150});
  EXPECT_EQ(newest_snapshot_data(*storage), "state@150");
  EXPECT_EQ(all_entries(*storage), make_entries(151, 201, 1, 50));
}

TEST(DiskStorage, Snapshot_KeepsTheNewestTwo) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  ASSERT_TRUE(storage->append(make_entries(1, 31, 1)).is_ok());
  for (uint64_t index : {uint64_t{10}, uint64_t{20}, uint64_t{30}}) {
    ASSERT_TRUE(storage->create_snapshot(Index{index}, {}, "s").is_ok());
  }
  EXPECT_FALSE(fs.exists(std::string(kDir) + "/" + snapshot_file_name(Index{10}, Term{1})));
  EXPECT_TRUE(fs.exists(std::string(kDir) + "/" + snapshot_file_name(Index{20}, Term{1})));
  EXPECT_TRUE(fs.exists(std::string(kDir) + "/" + snapshot_file_name(Index{30}, Term{1})));
  EXPECT_EQ(storage->create_snapshot(Index{25}, {}, "old").code(), ErrorCode::InvalidArgument);
}

TEST(DiskStorage, Snapshot_AnOldFileIsWrittenOverAndCutToTheNewSize) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  ASSERT_TRUE(storage->append(make_entries(1, 41, 1)).is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{10}, {}, std::string(5000, 'a')).is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{20}, {}, "b").is_ok());
  EXPECT_TRUE(names_starting(fs, "reused-").empty());
  ASSERT_TRUE(storage->create_snapshot(Index{30}, {}, "c").is_ok());
  // The third pushed out the first, which waits under a *.tmp name for the next snapshot.
  EXPECT_FALSE(fs.exists(std::string(kDir) + "/" + snapshot_file_name(Index{10}, Term{1})));
  EXPECT_EQ(names_starting(fs, "reused-"), std::vector<std::string>{"reused-1.snap.tmp"});
  ASSERT_TRUE(storage->create_snapshot(Index{40}, {}, "short").is_ok());
  const std::string newest = std::string(kDir) + "/" + snapshot_file_name(Index{40}, Term{1});
  EXPECT_EQ(newest_snapshot_data(*storage), "short");
  Result<std::unique_ptr<runtime::SnapshotFile>> file = storage->open_snapshot();
  ASSERT_TRUE(file.is_ok());
  EXPECT_EQ(fs.read_all(newest).size(), file.value()->file_bytes());  // Cut: no 'a' left.
  EXPECT_EQ(fs.read_all(newest).find('a'), std::string::npos);
  // Durable as such: a crash now recovers the snapshot whole.
  const std::unique_ptr<SimFs> image = fs.crash_image(0);
  auto recovered = open_or_die(sim_options(*image));
  EXPECT_EQ(newest_snapshot_data(*recovered), "short");
}

TEST(DiskStorage, Snapshot_AnOldFileStillReadIsRemovedNotWrittenOver) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  ASSERT_TRUE(storage->append(make_entries(1, 41, 1)).is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{10}, {}, "first").is_ok());
  // A follower's transfer of the snapshot at 10 is still going on.
  Result<std::unique_ptr<runtime::SnapshotFile>> sending = storage->open_snapshot();
  ASSERT_TRUE(sending.is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{20}, {}, "second").is_ok());
  ASSERT_TRUE(storage->create_snapshot(Index{30}, {}, "third").is_ok());
  EXPECT_FALSE(fs.exists(std::string(kDir) + "/" + snapshot_file_name(Index{10}, Term{1})));
  EXPECT_TRUE(names_starting(fs, "reused-").empty());
  ASSERT_TRUE(storage->create_snapshot(Index{40}, {}, std::string(100, 'x')).is_ok());
  // The transfer reads what it started with.
  std::string data(16, '\0');
  Result<size_t> got = sending.value()->read(std::span<char>(data));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(data.substr(0, got.value()), "first");
}

// SimFs, except that the first rename to a recycled segment's name fails (a full directory).
class FailFirstRecycleFs final : public ForwardingFs {
 public:
  explicit FailFirstRecycleFs(SimFs& inner) : ForwardingFs(inner) {}
  Status rename(const std::string& from, const std::string& to) override {
    if (!failed_ && to.find("/recycled-") != std::string::npos) {
      failed_ = true;
      return Status(ErrorCode::IoError, "rename " + from + ": No space left on device");
    }
    return inner_.rename(from, to);
  }

 private:
  bool failed_ = false;
};

TEST(DiskStorage, Compact_ASegmentWhoseRecyclingFailedIsRemovedNextTime) {
  SimFs sim;
  FailFirstRecycleFs fs(sim);
  auto storage = open_or_die(sim_options(fs, 4096));
  for (uint64_t i = 1; i < 201; i += 5) {
    ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 50)).is_ok());
  }
  ASSERT_TRUE(storage->create_snapshot(Index{150}, {{NodeId{1}}, {}, {}}, "state@150").is_ok());
  const std::vector<std::string> segments_before = names_starting(sim, "0000");
  EXPECT_EQ(storage->compact(Index{150}).code(), ErrorCode::IoError);
  // The next removal pass (after the next snapshot) takes it up again: the segment goes, and
  // never into the snapshot files' reuse.
  ASSERT_TRUE(storage->create_snapshot(Index{160}, {{NodeId{1}}, {}, {}}, "state@160").is_ok());
  EXPECT_TRUE(names_starting(sim, "reused-").empty());
  const std::string first_segment = std::string(kDir) + "/" + segments_before.front();
  EXPECT_FALSE(sim.exists(first_segment)) << first_segment;
  EXPECT_EQ(all_entries(*storage), make_entries(151, 201, 1, 50));
}

TEST(DiskStorage, ApplySnapshot_ReplacesTheLogDurably) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 101; i += 5) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 40)).is_ok());
    }
    raft::Snapshot snapshot{{Index{60}, Term{3}, {{NodeId{1}, NodeId{2}}, {}, {}}}, "leader"};
    ASSERT_TRUE(storage->apply_snapshot(snapshot).is_ok());
    EXPECT_EQ(storage->first_index(), Index{61});
    EXPECT_EQ(storage->last_index(), Index{60});
    EXPECT_EQ(storage->stats().segments, 1u);
    ASSERT_TRUE(storage->append(make_entries(61, 66, 3)).is_ok());
  }
  auto storage = open_or_die(sim_options(fs, 4096));
  EXPECT_EQ(storage->first_index(), Index{61});
  EXPECT_EQ(storage->term(Index{60}).value(), Term{3});
  EXPECT_EQ(all_entries(*storage), make_entries(61, 66, 3));
}

TEST(DiskStorage, Recovery_SnapshotWithoutLogResetDropsConflictingSuffix) {
  // The crash came after a leader's snapshot file was durable, before the reset record.
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs));
    ASSERT_TRUE(storage->append(make_entries(1, 21, 1)).is_ok());
  }
  Result<std::unique_ptr<SnapshotWriter>> writer =
      SnapshotWriter::create(fs, kDir, {Index{10}, Term{2}, {}});
  ASSERT_TRUE(writer.is_ok());
  ASSERT_TRUE(writer.value()->finish().is_ok());
  auto storage = open_or_die(sim_options(fs));
  EXPECT_EQ(storage->last_index(), Index{10});
  EXPECT_EQ(storage->first_index(), Index{11});
  EXPECT_EQ(storage->term(Index{10}).value(), Term{2});
}

TEST(DiskStorage, Recovery_SnapshotMatchingTheLogKeepsTheSuffix) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs));
    ASSERT_TRUE(storage->append(make_entries(1, 21, 1)).is_ok());
  }
  Result<std::unique_ptr<SnapshotWriter>> writer =
      SnapshotWriter::create(fs, kDir, {Index{10}, Term{1}, {}});
  ASSERT_TRUE(writer.is_ok());
  ASSERT_TRUE(writer.value()->finish().is_ok());
  auto storage = open_or_die(sim_options(fs));
  EXPECT_EQ(all_entries(*storage), make_entries(11, 21, 1));
}

TEST(DiskStorage, Failure_PoisonsEveryLaterWrite) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs));
  fs.crash_after(fs.steps() + 1);  // The write succeeds, its sync fails.
  EXPECT_EQ(storage->append(make_entries(1, 2, 1)).code(), ErrorCode::IoError);
  fs.crash_after(-1);
  EXPECT_EQ(storage->append(make_entries(2, 3, 1)).code(), ErrorCode::IoError);
  EXPECT_EQ(storage->sync().code(), ErrorCode::IoError);
}

TEST(DiskStorage, Entries_ReadBackChecksumCatchesDamage) {
  SimFs fs;
  auto storage = open_uncached(fs, 1 << 20);
  ASSERT_TRUE(storage->append(make_entries(1, 4, 1, 200)).is_ok());
  const std::string path = std::string(kDir) + "/" + segment_file_name(1);
  std::string bytes = fs.read_all(path);
  const size_t at = bytes.find(std::string(200, 'd'));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = 'X';
  fs.overwrite(path, bytes);
  Result<std::vector<raft::Entry>> entries = storage->entries(Index{1}, Index{2}, UINT64_MAX);
  ASSERT_FALSE(entries.is_ok());
  EXPECT_EQ(entries.status().code(), ErrorCode::Corruption);
  EXPECT_NE(entries.status().message().find(path), std::string::npos);
}

// Random appends (with suffix replacement), snapshots and compactions, mirrored on
// MemoryStorage: the two must answer every LogStorage question alike.
TEST(DiskStorage, MatchesMemoryStorageUnderRandomOperations) {
  SimFs fs;
  DiskStorageOptions options = sim_options(fs, 4096);
  options.cache_bytes_max = 1500;
  auto disk = open_or_die(options);
  raft::MemoryStorage memory;
  Prng prng(7);
  uint64_t term = 1;
  for (int step = 0; step < 400; ++step) {
    const uint64_t choice = prng.uniform(0, 9);
    const Index first = memory.first_index();
    const Index last = memory.last_index();
    if (choice < 7) {
      // Never below the snapshot: Raft snapshots only committed entries.
      const uint64_t snapshot_index = memory.snapshot().value().meta.index.value();
      const uint64_t lo_min =
          std::max({first.value(), snapshot_index + 1, last.value() > 3 ? last.value() - 3 : 1});
      const uint64_t lo = prng.uniform(std::min(lo_min, last.value() + 1), last.value() + 1);
      if (lo <= last.value()) ++term;
      const auto batch = make_entries(lo, lo + prng.uniform(1, 6), term, prng.uniform(1, 90));
      ASSERT_TRUE(memory.append(batch).is_ok());
      ASSERT_TRUE(disk->append(batch).is_ok());
    } else if (choice < 9 && last >= first) {
      const Index at = Index{prng.uniform(first.value(), last.value())};
      const Status memory_status = memory.create_snapshot(at, {}, "s");
      EXPECT_EQ(disk->create_snapshot(at, {}, "s").code(), memory_status.code());
      if (memory_status.is_ok() && prng.chance(1, 2)) {
        ASSERT_TRUE(memory.compact(at).is_ok());
        ASSERT_TRUE(disk->compact(at).is_ok());
      }
    }
    ASSERT_EQ(disk->first_index(), memory.first_index()) << "step " << step;
    ASSERT_EQ(disk->last_index(), memory.last_index());
    ASSERT_EQ(disk->term(memory.first_index() - 1).value(),
              memory.term(memory.first_index() - 1).value());
    ASSERT_EQ(all_entries(*disk), all_entries(memory)) << "step " << step;
  }
}

}  // namespace
}  // namespace raftkv::storage

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

// A leader-side storage with a streamed snapshot at index 40 (data in several writes).
std::unique_ptr<DiskStorage> leader_with_snapshot(SimFs& fs, std::string* data) {
  auto leader = open_or_die(sim_options(fs, 1 << 16));
  EXPECT_TRUE(leader->append(make_entries(1, 51, 3)).is_ok());
  Result<std::unique_ptr<SnapshotWriter>> writer =
      leader->begin_snapshot({Index{40}, Term{3}, {{NodeId{1}, NodeId{2}}, {}, {}}});
  EXPECT_TRUE(writer.is_ok());
  for (int part = 0; part < 10; ++part) {
    const std::string piece(3000, static_cast<char>('a' + part));
    *data += piece;
    EXPECT_TRUE(writer.value()->write(piece).is_ok());
  }
  EXPECT_TRUE(leader->finish_local_snapshot(std::move(writer.value())).is_ok());
  return leader;
}

TEST(DiskStorage, ReceivedSnapshot_ResumesAfterDisconnectAndInstalls) {
  SimFs leader_fs;
  std::string data;
  auto leader = leader_with_snapshot(leader_fs, &data);
  SimFs follower_fs;
  auto follower = open_or_die(sim_options(follower_fs));
  ASSERT_TRUE(follower->append(make_entries(1, 61, 1)).is_ok());  // A conflicting log.
  Result<std::unique_ptr<runtime::IncomingSnapshot>> receiver = follower->begin_receive_snapshot();
  ASSERT_TRUE(receiver.is_ok());
  constexpr uint64_t kChunk = 4096;
  uint64_t offset = 0;
  int chunks = 0;
  while (true) {
    Result<std::string> chunk = leader->open_snapshot().value()->read_chunk(offset, kChunk);
    ASSERT_TRUE(chunk.is_ok());
    if (chunk.value().empty()) break;
    ASSERT_TRUE(receiver.value()->write_chunk(offset, chunk.value()).is_ok());
    if (++chunks == 3) {
      // Disconnect: the leader resends from an older offset; the receiver skips the overlap.
      offset = receiver.value()->received_bytes() - 100;
      continue;
    }
    offset = receiver.value()->received_bytes();
  }
  EXPECT_EQ(receiver.value()->write_chunk(offset + 10, "x").code(), ErrorCode::InvalidArgument);
  ASSERT_TRUE(follower->install_received_snapshot(std::move(receiver.value())).is_ok());
  EXPECT_EQ(follower->first_index(), Index{41});
  EXPECT_EQ(follower->last_index(), Index{40});
  EXPECT_EQ(follower->term(Index{40}).value(), Term{3});
  EXPECT_EQ(newest_snapshot_data(*follower), data);
  follower.reset();
  auto reopened = open_or_die(sim_options(follower_fs));
  EXPECT_EQ(newest_snapshot_data(*reopened), data);
  EXPECT_EQ(reopened->last_index(), Index{40});
}

TEST(DiskStorage, ReceivedSnapshot_DamagedInTransitIsRejected) {
  SimFs leader_fs;
  std::string data;
  auto leader = leader_with_snapshot(leader_fs, &data);
  SimFs follower_fs;
  auto follower = open_or_die(sim_options(follower_fs));
  ASSERT_TRUE(follower->append(make_entries(1, 11, 1)).is_ok());
  Result<std::unique_ptr<runtime::IncomingSnapshot>> receiver = follower->begin_receive_snapshot();
  ASSERT_TRUE(receiver.is_ok());
  Result<std::string> file = leader->open_snapshot().value()->read_chunk(0, UINT64_MAX);
  ASSERT_TRUE(file.is_ok());
  std::string bytes = file.value();
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  ASSERT_TRUE(receiver.value()->write_chunk(0, bytes).is_ok());
  EXPECT_EQ(follower->install_received_snapshot(std::move(receiver.value())).code(),
            ErrorCode::Corruption);
  EXPECT_EQ(follower->last_index(), Index{10});  // Nothing installed.
  const std::vector<std::string> names = follower_fs.list(kDir).value();
  for (const std::string& name : names) EXPECT_FALSE(name.ends_with(".snap")) << name;
}

TEST(DiskStorage, ReceivedSnapshot_PartialTransferIsDiscardedOnRestart) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs));
    Result<std::unique_ptr<runtime::IncomingSnapshot>> receiver = storage->begin_receive_snapshot();
    ASSERT_TRUE(receiver.is_ok());
    ASSERT_TRUE(receiver.value()->write_chunk(0, "RKVSNAP1 partial").is_ok());
    // Crash mid-transfer: the image keeps the temporary file.
    ASSERT_TRUE(fs.sync_dir(kDir).is_ok());
    auto image = fs.crash_image(1);
    auto temp_files = [&] {
      std::vector<std::string> temps;
      const std::vector<std::string> names = image->list(kDir).value();
      for (const std::string& name : names) {
        if (name.ends_with(".snap.tmp")) temps.push_back(name);
      }
      return temps;
    };
    ASSERT_EQ(temp_files().size(), 1u);
    auto restarted = open_or_die(sim_options(*image));
    EXPECT_TRUE(temp_files().empty());
    EXPECT_TRUE(restarted->snapshot().value().is_empty());
  }
}

}  // namespace
}  // namespace raftkv::storage
