#include "runtime/snapshot_transfer.h"

#include <gtest/gtest.h>

#include <deque>
#include <optional>

#include "common/prng.h"
#include "sim_fs.h"
#include "storage_test_util.h"

// SnapshotSender and SnapshotInbox end to end over a hand-driven "network" (a queue of chunks
// and acks the test delivers, drops or damages), each side on its own in-memory disk.

namespace raftkv::runtime {
namespace {

using storage::testing::kDir;
using storage::testing::open_or_die;
using storage::testing::sim_options;

constexpr NodeId kLeader{1};
constexpr NodeId kFollower{2};
constexpr uint64_t kChunk = 64 << 10;

class SnapshotTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_storage_ = open_or_die(sim_options(leader_fs_, 1 << 20));
    std::vector<raft::Entry> entries;
    for (uint64_t i = 1; i <= 20; ++i) {
      entries.push_back(raft::Entry{Term{2}, Index{i}, raft::EntryType::Normal, "x"});
    }
    ASSERT_TRUE(leader_storage_->append(entries).is_ok());
    Prng prng(7);
    data_.resize(300'000);
    for (char& c : data_) c = static_cast<char>(prng.next() & 0xff);
    ASSERT_TRUE(leader_storage_
                    ->create_snapshot(Index{20}, {{kLeader, kFollower, NodeId{3}}, {}, {}}, data_)
                    .is_ok());
    follower_storage_ = open_or_die(sim_options(follower_fs_));
    inbox_ = std::make_unique<SnapshotInbox>(*follower_storage_, logger_);
    sender_ = std::make_unique<SnapshotSender>(
        *leader_storage_,
        SnapshotTransferOptions{.chunk_bytes = kChunk, .resend_ms = 100, .give_up_ms = 1000},
        [this](NodeId to, SnapshotChunk chunk) {
          EXPECT_EQ(to, kFollower);
          EXPECT_LE(chunk.data.size(), kChunk);  // Memory bounded by one chunk.
          in_flight_.push_back(std::move(chunk));
        },
        [this](NodeId peer) {
          EXPECT_EQ(peer, kFollower);
          ++failures_;
        },
        logger_);
  }

  // Delivers the oldest chunk in flight and its ack; false when none was in flight.
  bool deliver_one(Term follower_term = Term{2}) {
    if (in_flight_.empty()) return false;
    SnapshotChunk chunk = std::move(in_flight_.front());
    in_flight_.pop_front();
    SnapshotInbox::ChunkResult result = inbox_->on_chunk(kLeader, follower_term, kFollower, chunk);
    if (result.install) installed_ = result.install;
    sender_->on_ack(kFollower, result.ack, now_ms_);
    last_ack_ = result.ack;
    return true;
  }

  void deliver_all() {
    for (int steps = 0; deliver_one(); ++steps) ASSERT_LT(steps, 1000);
  }

  // The follower's copy once installed into its storage.
  std::string follower_snapshot_data() {
    std::unique_ptr<IncomingSnapshot> file = inbox_->take_verified();
    EXPECT_NE(file, nullptr);
    if (file == nullptr) return {};
    EXPECT_TRUE(follower_storage_->install_received_snapshot(std::move(file)).is_ok());
    auto reader = follower_storage_->open_snapshot();
    EXPECT_TRUE(reader.is_ok());
    std::string data(reader.value()->data_bytes(), '\0');
    EXPECT_EQ(reader.value()->read(std::span<char>(data.data(), data.size())).value(), data.size());
    return data;
  }

  std::vector<std::string> follower_temp_files() {
    std::vector<std::string> temps;
    const std::vector<std::string> names = follower_fs_.list(kDir).value();
    for (const std::string& name : names) {
      if (name.ends_with(".snap.tmp")) temps.push_back(name);
    }
    return temps;
  }

  storage::testing::SimFs leader_fs_;
  storage::testing::SimFs follower_fs_;
  std::unique_ptr<storage::testing::SimFs> restarted_fs_;  // The follower's disk after a crash.
  NullLogger logger_;
  std::string data_;
  std::unique_ptr<storage::DiskStorage> leader_storage_;
  std::unique_ptr<storage::DiskStorage> follower_storage_;
  std::unique_ptr<SnapshotInbox> inbox_;
  std::unique_ptr<SnapshotSender> sender_;
  std::deque<SnapshotChunk> in_flight_;
  std::optional<raft::Message> installed_;
  SnapshotAck last_ack_;
  int failures_ = 0;
  uint64_t now_ms_ = 1000;
};

TEST_F(SnapshotTransferTest, StreamsTheFileInChunksAndVerifiesIt) {
  sender_->start(kFollower, Term{2}, now_ms_);
  EXPECT_EQ(in_flight_.size(), 1u);  // One chunk in flight at a time.
  int chunks = 0;
  while (deliver_one()) {
    ++chunks;
    EXPECT_LE(in_flight_.size(), 1u);
  }
  EXPECT_GE(chunks, static_cast<int>(data_.size() / kChunk));
  EXPECT_TRUE(last_ack_.done);
  EXPECT_EQ(sender_->active(), 0u);
  ASSERT_TRUE(installed_.has_value());
  EXPECT_EQ(installed_->type, raft::MessageType::InstallSnapshot);
  EXPECT_EQ(installed_->from, kLeader);
  EXPECT_EQ(installed_->term, Term{2});
  EXPECT_EQ(installed_->snapshot->meta.index, Index{20});
  EXPECT_EQ(installed_->snapshot->meta.conf_state.voters.size(), 3u);
  EXPECT_TRUE(installed_->snapshot->data.empty());  // The data stays in the file.
  EXPECT_EQ(follower_snapshot_data(), data_);
  EXPECT_EQ(follower_storage_->last_index(), Index{20});
  EXPECT_EQ(failures_, 0);
}

TEST_F(SnapshotTransferTest, LostChunkResumesFromTheAcknowledgedOffset) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  ASSERT_TRUE(deliver_one());
  ASSERT_EQ(in_flight_.size(), 1u);
  in_flight_.clear();  // The third chunk is lost (or the connection dropped).
  sender_->on_tick(now_ms_ + 50);
  EXPECT_TRUE(in_flight_.empty());  // Not yet: under resend_ms.
  now_ms_ += 150;
  sender_->on_tick(now_ms_);
  ASSERT_EQ(in_flight_.size(), 1u);
  EXPECT_EQ(in_flight_.front().offset, 2 * kChunk);  // Resumed, not restarted.
  deliver_all();
  EXPECT_TRUE(last_ack_.done);
  EXPECT_EQ(follower_snapshot_data(), data_);
}

TEST_F(SnapshotTransferTest, ResentChunkWhoseOriginalArrivedKeepsOneInFlight) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  // The ack was slow: the sender resends the same chunk, then both arrive.
  now_ms_ += 150;
  sender_->on_tick(now_ms_);
  ASSERT_EQ(in_flight_.size(), 2u);
  EXPECT_EQ(in_flight_[0].offset, in_flight_[1].offset);
  ASSERT_TRUE(deliver_one());  // The original: the next chunk leaves.
  ASSERT_TRUE(deliver_one());  // The copy: acked at the same offset, nothing more leaves.
  EXPECT_EQ(in_flight_.size(), 1u);
  deliver_all();
  EXPECT_EQ(follower_snapshot_data(), data_);
}

TEST_F(SnapshotTransferTest, FollowerRestartedMidTransferStartsCleanlyFromZero) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  ASSERT_TRUE(deliver_one());
  ASSERT_EQ(follower_temp_files().size(), 1u);
  // kill -9: the follower's disk keeps what was written; its memory is gone.
  inbox_.reset();
  follower_storage_.reset();
  restarted_fs_ = follower_fs_.crash_image(3);
  follower_storage_ = open_or_die(sim_options(*restarted_fs_));
  inbox_ = std::make_unique<SnapshotInbox>(*follower_storage_, logger_);
  const std::vector<std::string> names = restarted_fs_->list(kDir).value();
  for (const std::string& name : names) {
    EXPECT_FALSE(name.ends_with(".snap.tmp")) << name;  // The half file is gone.
  }
  ASSERT_TRUE(deliver_one());  // A chunk past offset 0 finds nothing to continue.
  EXPECT_EQ(last_ack_.received_bytes, 0u);
  ASSERT_EQ(in_flight_.size(), 1u);
  EXPECT_EQ(in_flight_.front().offset, 0u);
  deliver_all();
  EXPECT_TRUE(last_ack_.done);
  std::unique_ptr<IncomingSnapshot> file = inbox_->take_verified();
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(follower_storage_->install_received_snapshot(std::move(file)).is_ok());
  EXPECT_EQ(follower_storage_->snapshot().value().meta.index, Index{20});
}

TEST_F(SnapshotTransferTest, DamagedChunkIsDetectedAndTheTransferFails) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  ASSERT_EQ(in_flight_.size(), 1u);
  std::string* data = &in_flight_.front().data;
  (*data)[data->size() / 2] = static_cast<char>((*data)[data->size() / 2] ^ 0x01);
  deliver_all();
  EXPECT_FALSE(last_ack_.done);
  EXPECT_NE(last_ack_.error.find("checksum"), std::string::npos) << last_ack_.error;
  EXPECT_FALSE(installed_.has_value());
  EXPECT_EQ(failures_, 1);  // The core is told, and probes the follower again.
  EXPECT_EQ(sender_->active(), 0u);
  EXPECT_EQ(inbox_->take_verified(), nullptr);
  EXPECT_TRUE(follower_temp_files().empty());
  EXPECT_TRUE(follower_storage_->snapshot().value().is_empty());
}

TEST_F(SnapshotTransferTest, ChunksFromAStaleTermAreRefused) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one(Term{3}));  // The follower has seen a newer leader.
  EXPECT_FALSE(last_ack_.error.empty());
  EXPECT_EQ(failures_, 1);
  EXPECT_TRUE(in_flight_.empty());
  EXPECT_TRUE(follower_temp_files().empty());
}

TEST_F(SnapshotTransferTest, ChunkBeyondTheAnnouncedSizeIsRefused) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  ASSERT_EQ(in_flight_.size(), 1u);
  in_flight_.front().file_bytes += 1;
  ASSERT_TRUE(deliver_one());
  EXPECT_NE(last_ack_.error.find("size"), std::string::npos) << last_ack_.error;
  EXPECT_EQ(failures_, 1);
  EXPECT_TRUE(follower_temp_files().empty());
}

TEST_F(SnapshotTransferTest, GivesUpOnAFollowerThatNeverAnswers) {
  sender_->start(kFollower, Term{2}, now_ms_);
  for (int i = 0; i < 30 && failures_ == 0; ++i) {
    now_ms_ += 100;
    sender_->on_tick(now_ms_);
  }
  EXPECT_EQ(failures_, 1);
  EXPECT_EQ(sender_->active(), 0u);
  EXPECT_GT(in_flight_.size(), 1u);  // It resent before giving up.
}

TEST_F(SnapshotTransferTest, ARepeatedStartInTheSameTermKeepsTheTransfer) {
  sender_->start(kFollower, Term{2}, now_ms_);
  ASSERT_TRUE(deliver_one());
  in_flight_.clear();
  sender_->start(kFollower, Term{2}, now_ms_);  // The core asked again (a probe was refused).
  EXPECT_TRUE(in_flight_.empty());
  EXPECT_EQ(sender_->active(), 1u);
  sender_->stop_all();
  EXPECT_EQ(sender_->active(), 0u);
}

}  // namespace
}  // namespace raftkv::runtime
