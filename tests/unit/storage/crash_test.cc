// Crash-point harness: run a write workload on SimFs, stop it after every single file-system
// step (write, sync, allocate, truncate, rename, remove, directory sync), then recover from
// what a power loss would leave (with and without torn unsynced writes) and check:
//   - recovery succeeds (a crash is never reported as corruption);
//   - everything acknowledged (synced) before the stop is there;
//   - nothing that was never written appears (every entry, hard state and snapshot recovered
//     is the acknowledged one or the one being written at the stop).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "common/prng.h"
#include "proto/convert.h"
#include "raft/memory_storage.h"
#include "storage/disk_storage.h"
#include "storage/record.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

// The acknowledged state, and the state the operation in flight would have produced.
struct Models {
  raft::MemoryStorage acked;
  raft::MemoryStorage pending;
  Index touched_from{UINT64_MAX};  // Lowest index the in-flight operation may replace.
  bool snapshot_in_flight = false;
};

// One deterministic operation on `model` (a copy of the acked state), applied to `storage`.
// Returns false once the storage failed (the simulated crash).
bool run_operation(Prng& prng, DiskStorage& storage, Models& models, uint64_t* term) {
  raft::MemoryStorage& model = models.pending;
  const raft::HardState hard_state = model.hard_state();
  const Index last = model.last_index();
  const uint64_t choice = prng.uniform(0, 19);
  if (choice < 14 || last < Index{3}) {
    // Append, replacing uncommitted entries now and then, with a hard state half the time.
    Index lo = last + 1;
    if (prng.chance(1, 5) && last > hard_state.commit + 1 && last >= model.first_index()) {
      lo = Index{prng.uniform(std::max(hard_state.commit, model.first_index() - 1).value() + 1,
                              last.value())};
      ++*term;
    }
    const auto entries =
        make_entries(lo.value(), lo.value() + prng.uniform(1, 4), *term, prng.uniform(1, 600));
    std::optional<raft::HardState> next;
    if (prng.chance(1, 2)) {
      next = raft::HardState{
          Term{*term}, NodeId{1},
          Index{prng.uniform(hard_state.commit.value(), entries.back().index.value())}};
      model.set_hard_state(*next);
    }
    RAFT_ASSERT(model.append(entries).is_ok());
    models.touched_from = lo;
    return storage.save(entries, next).is_ok();
  }
  const Index snapshot_index = model.snapshot().value().meta.index;
  if (choice < 18 && hard_state.commit > snapshot_index) {
    const Index at = hard_state.commit;
    RAFT_ASSERT(model.create_snapshot(at, {{NodeId{1}}, {}, {}}, "state").is_ok());
    RAFT_ASSERT(model.compact(at).is_ok());
    if (!storage.create_snapshot(at, {{NodeId{1}}, {}, {}}, "state").is_ok()) return false;
    return storage.compact(at).is_ok();
  }
  if (choice == 19) {
    // A leader's snapshot ahead of everything here.
    ++*term;
    const raft::Snapshot snapshot{{last + 5, Term{*term}, {{NodeId{1}}, {}, {}}}, "leader"};
    RAFT_ASSERT(model.apply_snapshot(snapshot).is_ok());
    raft::HardState next = hard_state;
    next.term = Term{*term};
    next.commit = snapshot.meta.index;
    model.set_hard_state(next);
    models.snapshot_in_flight = true;
    if (!storage.apply_snapshot(snapshot).is_ok()) return false;
    models.snapshot_in_flight = false;
    models.touched_from = snapshot.meta.index + 1;
    return storage.set_hard_state(next).is_ok();
  }
  return true;
}

std::optional<raft::Entry> entry_at(const raft::MemoryStorage& model, Index index) {
  if (index < model.first_index() || index > model.last_index()) return std::nullopt;
  return model.entries(index, index + 1, UINT64_MAX).value().front();
}

void check_recovered(const DiskStorage& recovered, const Models& models, const std::string& at) {
  const raft::HardState hard_state = recovered.hard_state();
  EXPECT_TRUE(hard_state == models.acked.hard_state() || hard_state == models.pending.hard_state())
      << at << ": hard state never written";
  const raft::SnapshotMeta meta = recovered.snapshot().value().meta;
  const raft::SnapshotMeta acked_meta = models.acked.snapshot().value().meta;
  const bool pending_snapshot = meta == models.pending.snapshot().value().meta;
  ASSERT_TRUE(meta == acked_meta || pending_snapshot) << at << ": snapshot never written";
  for (Index i = recovered.first_index(); i <= recovered.last_index(); ++i) {
    const raft::Entry entry = recovered.entries(i, i + 1, UINT64_MAX).value().front();
    const bool known = entry == entry_at(models.acked, i) || entry == entry_at(models.pending, i);
    ASSERT_TRUE(known) << at << ": entry " << i << " was never written";
  }
  if (pending_snapshot && models.snapshot_in_flight) return;  // The old log may be gone.
  // Acknowledged entries below what the operation in flight may replace must all be there
  // (or be covered by the recovered snapshot).
  for (Index i = meta.index + 1; i <= models.acked.last_index() && i < models.touched_from; ++i) {
    ASSERT_LE(i, recovered.last_index()) << at << ": acknowledged entry " << i << " lost";
    const raft::Entry entry = recovered.entries(i, i + 1, UINT64_MAX).value().front();
    ASSERT_EQ(entry_at(models.acked, i), entry) << at << ": acknowledged entry " << i << " lost";
  }
}

// Runs the workload until the crash point; returns false if it completed without crashing.
// With `background`, the next segment file is prepared by the pipeline's own thread, so its
// steps interleave with the workload's in a different order on each run.
bool run_until_crash(SimFs& fs, uint64_t seed, Models* models, bool background = false) {
  DiskStorageOptions options = sim_options(fs, 4096);
  options.background_threads = background;
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(kDir, options);
  if (!storage.is_ok()) return true;  // Crashed inside open: nothing acknowledged yet.
  Prng prng(seed);
  uint64_t term = 1;
  for (int step = 0; step < 60; ++step) {
    models->pending = models->acked;
    models->touched_from = Index{UINT64_MAX};
    models->snapshot_in_flight = false;
    if (!run_operation(prng, *storage.value(), *models, &term)) return true;
    models->acked = models->pending;
  }
  models->touched_from = Index{UINT64_MAX};
  return fs.crashed();
}

void dump(SimFs& fs) {
  const std::vector<std::string> names = fs.list(kDir).value();
  for (const std::string& name : names) {
    std::fprintf(stderr, "file %s\n", name.c_str());
    if (!name.ends_with(".wal")) continue;
    const std::string bytes = fs.read_all(std::string(kDir) + "/" + name);
    (void)scan_records(bytes, name, true, [&](const RecordView& record) {
      std::string what;
      if (record.type == RecordType::Entry) {
        raft::Entry entry;
        (void)proto::decode_entry(record.payload, &entry);
        what = std::to_string(entry.index.value()) + "@" + std::to_string(entry.term.value());
      } else if (record.type == RecordType::SegmentHeader) {
        SegmentHeader header;
        (void)decode_segment_header(record.payload, &header);
        what = "first " + std::to_string(header.first_index.value());
      } else if (record.type == RecordType::LogReset) {
        Index index;
        Term term;
        (void)proto::decode_log_reset(record.payload, &index, &term);
        what = std::to_string(index.value());
      } else if (record.type == RecordType::HardState) {
        raft::HardState hs;
        (void)proto::decode_hard_state(record.payload, &hs);
        what = "commit " + std::to_string(hs.commit.value());
      }
      std::fprintf(stderr, "  %lu %s %s\n", record.offset, record_type_name(record.type),
                   what.c_str());
      return Status::ok();
    });
  }
}

// Spare segment files (segment_pipeline.h) in `fs`'s data directory.
int64_t spares_in(SimFs& fs) {
  const std::vector<std::string> names = fs.list(kDir).value();
  return std::count_if(names.begin(), names.end(),
                       [](const std::string& name) { return name.starts_with("spare-"); });
}

// Crashes the workload after steps 0, stride, 2 * stride, ... until it completes; checks what
// every crash image recovers. Counts in *images_with_spare those that held a leftover spare
// segment file.
void check_every_crash_point(uint64_t seed, int* images_with_spare, bool background = false,
                             int64_t stride = 1) {
  int crash_points = 0;
  for (int64_t steps = 0;; steps += stride) {
    SimFs fs;
    fs.crash_after(steps);
    Models models;
    if (!run_until_crash(fs, seed, &models, background)) break;
    ++crash_points;
    for (uint64_t image_seed = 0; image_seed < 4; ++image_seed) {
      const std::string at = "seed " + std::to_string(seed) + ", crash after step " +
                             std::to_string(steps) + ", image " + std::to_string(image_seed);
      std::unique_ptr<SimFs> image =
          fs.crash_image(image_seed * 7919 + static_cast<uint64_t>(steps));
      *images_with_spare += spares_in(*image) > 0 ? 1 : 0;
      Result<std::unique_ptr<DiskStorage>> recovered =
          DiskStorage::open(kDir, sim_options(*image, 4096));
      if (!recovered.is_ok() && getenv("CRASH_DEBUG") != nullptr) dump(*image);
      ASSERT_TRUE(recovered.is_ok()) << at << ": " << recovered.status().to_string();
      check_recovered(*recovered.value(), models, at);
      if (::testing::Test::HasFatalFailure()) return;
      // The recovered storage must accept writes and recover again.
      const Index next = recovered.value()->last_index() + 1;
      if (getenv("CRASH_DEBUG") != nullptr) {
        std::fprintf(stderr, "%s: first %lu last %lu segments %zu files:", at.c_str(),
                     recovered.value()->first_index().value(), next.value() - 1,
                     recovered.value()->stats().segments);
        const std::vector<std::string> names = image->list(kDir).value();
        for (const std::string& name : names) {
          std::fprintf(stderr, " %s(%zu)", name.c_str(),
                       image->read_all(std::string(kDir) + "/" + name).size());
        }
        std::fprintf(stderr, "\n");
      }
      ASSERT_TRUE(recovered.value()->append({make_entry(next.value(), 1000)}).is_ok()) << at;
      recovered.value().reset();
      Result<std::unique_ptr<DiskStorage>> again =
          DiskStorage::open(kDir, sim_options(*image, 4096));
      ASSERT_TRUE(again.is_ok()) << at << ": " << again.status().to_string();
      ASSERT_EQ(again.value()->last_index(), next) << at;
      EXPECT_EQ(spares_in(*image), 1) << at;  // Leftovers removed; this one is `again`'s.
    }
  }
  EXPECT_GT(crash_points, 100 / stride);
  ::testing::Test::RecordProperty("crash_points", crash_points);
  ::testing::Test::RecordProperty("images_with_spare", *images_with_spare);
}

// A follower whose long, conflicting log is replaced by an older leader snapshot: the removal
// of the replaced segments can stop after any step.
TEST(CrashPoints, LeaderSnapshotOverALongerLogRecoversAtEveryStep) {
  for (int64_t steps = 0;; ++steps) {
    SimFs fs;
    {
      auto storage = open_or_die(sim_options(fs, 4096));
      for (uint64_t i = 1; i < 150; i += 5) {
        ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 60)).is_ok());
      }
    }
    auto storage = open_or_die(sim_options(fs, 4096));
    fs.crash_after(fs.steps() + steps);
    const raft::Snapshot snapshot{{Index{20}, Term{2}, {}}, "leader"};
    const bool completed = storage->apply_snapshot(snapshot).is_ok();
    storage.reset();
    const std::string at = "crash after step " + std::to_string(steps);
    // The image must outlive the storage opened on it (its destructor removes the spare).
    const std::unique_ptr<SimFs> image = fs.crash_image(0);
    Result<std::unique_ptr<DiskStorage>> recovered =
        DiskStorage::open(kDir, sim_options(*image, 4096));
    ASSERT_TRUE(recovered.is_ok()) << at << ": " << recovered.status().to_string();
    const Index last = recovered.value()->last_index();
    // Either the old log (snapshot not durable yet) or exactly the snapshot.
    if (last == Index{20}) {
      EXPECT_EQ(recovered.value()->term(Index{20}).value(), Term{2}) << at;
    } else {
      EXPECT_EQ(last, Index{150}) << at;
      EXPECT_FALSE(completed) << at;
    }
    if (completed) break;
  }
}

// Every seed rotates many times (4 KiB segments): the crash points include every step of
// preparing a spare segment file and of turning one into a segment (write its head, sync,
// rename, sync the directory), and some crashes leave a spare behind under a durable name
// (a snapshot's directory sync made it so): recovery must remove it, not call it damage.
void check_every_crash_point_leaves_spares(uint64_t seed) {
  int images_with_spare = 0;
  check_every_crash_point(seed, &images_with_spare);
  EXPECT_GT(images_with_spare, 0);
}

TEST(CrashPoints, EveryStepOfAWorkloadRecovers_Seed1) { check_every_crash_point_leaves_spares(1); }
TEST(CrashPoints, EveryStepOfAWorkloadRecovers_Seed2) { check_every_crash_point_leaves_spares(2); }
TEST(CrashPoints, EveryStepOfAWorkloadRecovers_Seed3) { check_every_crash_point_leaves_spares(3); }

// The same with the spare prepared on the pipeline's thread, racing the workload's steps: the
// interleaving differs per run, so this samples every third step; each run is a possible
// execution and must recover as well.
TEST(CrashPoints, BackgroundSparePreparationRecovers) {
  int images_with_spare = 0;
  check_every_crash_point(4, &images_with_spare, /*background=*/true, /*stride=*/3);
}

}  // namespace
}  // namespace raftkv::storage
