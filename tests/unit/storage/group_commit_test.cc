// Group commit on a real directory: many appenders share fdatasyncs.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <future>
#include <thread>

#include "storage/disk_storage.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "raftkv-storage-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    RAFT_ASSERT(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    Result<std::vector<std::string>> names = posix_fs().list(path_);
    if (names.is_ok()) {
      for (const std::string& name : names.value()) (void)posix_fs().remove(join_path(path_, name));
    }
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
                storage.save_nowait({make_entry(next, 1, std::string(100, 't'))}, std::nullopt);
          }
          if (!ticket.is_ok() || !storage.wait_durable(ticket.value()).is_ok()) ++failures;
          continue;
        }
        // Callback path: completed by the sync thread.
        auto done = std::make_shared<std::promise<Status>>();
        std::future<Status> durable = done->get_future();
        {
          std::lock_guard<std::mutex> lock(order);
          const uint64_t next = storage.last_index().value() + 1;
          const Status queued =
              storage.save_async({make_entry(next, 1, std::string(100, 'x'))}, std::nullopt,
                                 [done](const Status& s) { done->set_value(s); });
          if (!queued.is_ok()) ++failures;
          if (!queued.is_ok()) continue;
        }
        if (!durable.get().is_ok()) ++failures;
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

TEST(GroupCommit, CallbacksRunInWriteOrderAndSyncMakesAllDurable) {
  TempDir dir;
  Result<std::unique_ptr<DiskStorage>> opened = DiskStorage::open(dir.path(), {});
  ASSERT_TRUE(opened.is_ok());
  std::mutex mu;
  std::vector<uint64_t> completed;
  std::promise<void> all_done;
  for (uint64_t i = 1; i <= 10; ++i) {
    ASSERT_TRUE(opened.value()
                    ->save_async({make_entry(i, 1)}, std::nullopt,
                                 [&, i](const Status& s) {
                                   ASSERT_TRUE(s.is_ok());
                                   std::lock_guard<std::mutex> lock(mu);
                                   completed.push_back(i);
                                   if (i == 10) all_done.set_value();
                                 })
                    .is_ok());
  }
  // sync() returns once everything written before it is durable; the callbacks for the same
  // writes run on the sync thread, in write order.
  ASSERT_TRUE(opened.value()->sync().is_ok());
  all_done.get_future().wait();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(completed, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
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

}  // namespace
}  // namespace raftkv::storage
