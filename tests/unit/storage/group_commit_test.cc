// Group commit: many appenders share fdatasyncs (on a real directory), and the order of
// syncs and wakeups (on a gated SimFs, each fdatasync ending when the test says).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "storage/disk_storage.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

TEST(GroupCommit, ConcurrentAppendersShareSyncs) {
  TempDir dir;
  DiskStorageOptions options;
  options.segment_bytes = 1 << 20;
  Result<std::unique_ptr<DiskStorage>> opened = DiskStorage::open(dir.path(), options);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  DiskStorage& storage = *opened.value();
  constexpr int kThreads = 8;
  constexpr int kAppendsEach = 40;
  std::mutex order;  // The runtime hands out indexes in order; waiting is what overlaps.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsEach; ++i) {
        if (t % 2 == 0) {
          // Ticket path: order under the lock, wait for durability outside it.
          Result<SyncTicket> ticket = SyncTicket{};
          {
            std::lock_guard<std::mutex> lock(order);
            const uint64_t next = storage.last_index().value() + 1;
            ticket =
                storage.write({make_entry(next, 1, std::string(100, 't'))}, std::nullopt);
          }
          if (!ticket.is_ok() || !storage.wait_durable(ticket.value()).is_ok()) ++failures;
          continue;
        }
        // Blocking path: save() writes and waits in one call.
        std::lock_guard<std::mutex> lock(order);
        const uint64_t next = storage.last_index().value() + 1;
        if (!storage.append({make_entry(next, 1, std::string(100, 'x'))}).is_ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(storage.last_index(), Index{kThreads * kAppendsEach});
  const uint64_t syncs = storage.stats().syncs;
  EXPECT_LT(syncs, uint64_t{kThreads * kAppendsEach});  // Some syncs covered several appends.
  RecordProperty("syncs", static_cast<int>(syncs));
  opened.value().reset();
  Result<std::unique_ptr<DiskStorage>> reopened = DiskStorage::open(dir.path(), options);
  ASSERT_TRUE(reopened.is_ok());
  EXPECT_EQ(reopened.value()->last_index(), Index{kThreads * kAppendsEach});
}

TEST(GroupCommit, LoneWriterSyncsOncePerAppend) {
  TempDir dir;
  Result<std::unique_ptr<DiskStorage>> opened = DiskStorage::open(dir.path(), {});
  ASSERT_TRUE(opened.is_ok());
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(opened.value()->append({make_entry(i, 1)}).is_ok());
  EXPECT_EQ(opened.value()->stats().syncs, 5u);
  ASSERT_TRUE(opened.value()->sync().is_ok());  // Nothing new written: no extra fdatasync.
  EXPECT_EQ(opened.value()->stats().syncs, 5u);
}

// SimFs whose WAL syncs, once gated, each block until the test releases them (one by one, in
// order, each succeeding or failing as told): the test decides when an fdatasync ends.
class GatedFs final : public ForwardingFs {
 public:
  explicit GatedFs(SimFs& inner) : ForwardingFs(inner) {}

  void gate() {
    std::lock_guard<std::mutex> lock(mu_);
    gated_ = true;
  }
  // Blocks until `count` gated syncs have started.
  void await_started(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return started_ >= count; });
  }
  // Lets the oldest blocked sync end, with `status`.
  void release(Status status = Status::ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_.push_back(std::move(status));
    changed_.notify_all();
  }
  [[nodiscard]] int started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    Result<std::unique_ptr<File>> file = inner_.open(path, mode);
    if (!file.is_ok()) return file;
    return std::unique_ptr<File>(std::make_unique<GatedFile>(*this, std::move(file.value())));
  }

 private:
  class GatedFile final : public File {
   public:
    GatedFile(GatedFs& fs, std::unique_ptr<File> inner) : fs_(fs), inner_(std::move(inner)) {}
    Status write_at(uint64_t offset, std::string_view bytes) override {
      return inner_->write_at(offset, bytes);
    }
    Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
      return inner_->read_at(offset, out, size);
    }
    Status sync() override {
      // Only the WAL's syncs: the segment pipeline's thread syncs spare files on its own.
      if (path().find("spare-") != std::string::npos) return inner_->sync();
      Status outcome = fs_.pass_gate();
      return outcome.is_ok() ? inner_->sync() : outcome;
    }
    Status allocate(uint64_t size) override { return inner_->allocate(size); }
    Status truncate(uint64_t size) override { return inner_->truncate(size); }
    Result<uint64_t> size() const override { return inner_->size(); }
    const std::string& path() const override { return inner_->path(); }

   private:
    GatedFs& fs_;
    std::unique_ptr<File> inner_;
  };

  Status pass_gate() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!gated_) return Status::ok();
    const int mine = started_++;
    changed_.notify_all();
    changed_.wait(lock, [&] { return static_cast<int>(outcomes_.size()) > mine; });
    return outcomes_[static_cast<size_t>(mine)];
  }

  std::mutex mu_;
  std::condition_variable changed_;
  bool gated_ = false;
  int started_ = 0;
  std::vector<Status> outcomes_;
};

// Writers that queue records while a sync runs: when it ends, exactly one more sync covers them
// all, and it starts without waiting for any further writer; none of them returns before it.
// With the sync thread, that thread starts it; without (the simulator's mode), one of the
// waiting writers does.
class WritesDuringASync : public ::testing::TestWithParam<bool> {};

TEST_P(WritesDuringASync, ShareExactlyTheNextOne) {
  SimFs sim;
  GatedFs fs(sim);
  DiskStorageOptions options = sim_options(fs, 1 << 20);
  options.background_threads = GetParam();
  auto storage = open_or_die(options);
  fs.gate();
  const uint64_t syncs_before = storage->stats().syncs;
  // A lone writer runs sync 1 itself.
  std::future<Status> first = std::async(std::launch::async, [&] {
    return storage->append({make_entry(1, 1)});
  });
  fs.await_started(1);
  constexpr int kLate = 6;
  std::atomic<int> late_returned{0};
  std::vector<std::thread> late;
  for (int i = 0; i < kLate; ++i) {
    // Queued while sync 1 runs (in index order); they wait from their own threads.
    Result<SyncTicket> ticket =
        storage->write({make_entry(2 + static_cast<uint64_t>(i), 1)}, std::nullopt);
    ASSERT_TRUE(ticket.is_ok());
    late.emplace_back([&, ticket = ticket.value()] {
      EXPECT_TRUE(storage->wait_durable(ticket).is_ok());
      ++late_returned;
    });
  }
  fs.release();  // Sync 1 ends: it covered only entry 1.
  EXPECT_TRUE(first.get().is_ok());
  fs.await_started(2);  // Sync 2 starts with no new writer arriving.
  EXPECT_EQ(late_returned.load(), 0);  // Their records are not durable before sync 2 ends.
  fs.release();
  for (std::thread& thread : late) thread.join();
  EXPECT_EQ(late_returned.load(), kLate);
  EXPECT_EQ(fs.started(), 2);
  EXPECT_EQ(storage->stats().syncs - syncs_before, 2u);
}

INSTANTIATE_TEST_SUITE_P(GroupCommit, WritesDuringASync, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "WithSyncThread" : "WithoutSyncThread";
                         });

// A failed fdatasync fails the writers it covered and those waiting for the next one, at once.
TEST(GroupCommit, FailedSyncFailsEveryWaiterInBothCohorts) {
  SimFs sim;
  GatedFs fs(sim);
  auto storage = open_or_die(sim_options(fs, 1 << 20));
  fs.gate();
  std::future<Status> first = std::async(std::launch::async, [&] {
    return storage->append({make_entry(1, 1)});
  });
  fs.await_started(1);
  Result<SyncTicket> ticket = storage->write({make_entry(2, 1)}, std::nullopt);
  ASSERT_TRUE(ticket.is_ok());
  std::future<Status> late = std::async(std::launch::async, [&] {
    return storage->wait_durable(ticket.value());
  });
  fs.release(Status(ErrorCode::IoError, "fdatasync: Input/output error"));
  EXPECT_EQ(first.get().code(), ErrorCode::IoError);
  EXPECT_EQ(late.get().code(), ErrorCode::IoError);
  EXPECT_EQ(storage->sync().code(), ErrorCode::IoError);  // Poisoned for good.
  EXPECT_EQ(fs.started(), 1);  // Nobody retried the fdatasync.
}

}  // namespace
}  // namespace raftkv::storage
