// kill -9 of a writing process at random moments: every acknowledged (synced) entry is there
// after recovery, and nothing else is wrong with the log.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/prng.h"
#include "storage/disk_storage.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

// The child: appends forever, reporting each synced index on `ack_fd`.
[[noreturn]] void write_forever(const std::string& dir, int ack_fd) {
  DiskStorageOptions options;
  options.segment_bytes = 64 * 1024;  // Rotations happen too.
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(dir, options);
  if (!storage.is_ok()) _exit(3);
  for (uint64_t index = storage.value()->last_index().value() + 1;; ++index) {
    const std::string data = "value-" + std::to_string(index) + std::string(index % 300, '.');
    if (!storage.value()->append({make_entry(index, 1, data)}).is_ok()) _exit(4);
    if (write(ack_fd, &index, sizeof(index)) != sizeof(index)) _exit(5);
  }
}

uint64_t read_acks(int fd, uint64_t wanted) {
  uint64_t last = 0;
  uint64_t count = 0;
  uint64_t index = 0;
  while ((wanted == 0 || count < wanted) && read(fd, &index, sizeof(index)) == sizeof(index)) {
    last = index;
    ++count;
  }
  return last;
}

TEST(KillNine, AcknowledgedEntriesSurviveEveryKill) {
  char pattern[] = "/tmp/raftkv-kill-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = std::string(pattern) + "/data";
  Prng prng(11);
  uint64_t acked = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      write_forever(dir, fds[1]);
    }
    close(fds[1]);
    acked = std::max(acked, read_acks(fds[0], prng.uniform(20, 400)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer failed with exit " << WEXITSTATUS(status);
    acked = std::max(acked, read_acks(fds[0], 0));  // Acks sent before the kill landed.
    close(fds[0]);

    Result<std::unique_ptr<DiskStorage>> recovered = DiskStorage::open(dir, {});
    ASSERT_TRUE(recovered.is_ok()) << "round " << round << ": " << recovered.status().to_string();
    ASSERT_GE(recovered.value()->last_index(), Index{acked}) << "round " << round;
    const std::vector<raft::Entry> entries = all_entries(*recovered.value());
    for (const raft::Entry& entry : entries) {
      ASSERT_EQ(entry.data.view().substr(0, entry.data.view().find('.')),
                "value-" + std::to_string(entry.index.value()));
    }
  }
  EXPECT_EQ(std::system(("rm -rf " + std::string(pattern)).c_str()), 0);
}

}  // namespace
}  // namespace raftkv::storage
