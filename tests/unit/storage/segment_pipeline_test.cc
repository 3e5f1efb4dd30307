// SegmentPipeline: the next WAL segment file is created, preallocated, zero-filled and synced
// ahead of the rotation that uses it; DiskStorage rotations take it; leftovers of a crash are
// removed.
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "storage/disk_storage.h"
#include "storage/segment_pipeline.h"
#include "storage_test_util.h"

namespace raftkv::storage {
namespace {

using namespace testing;  // NOLINT: test helpers.

constexpr uint64_t kSegmentBytes = 8192;

// SimFs, except that creating a spare file fails (as on a full disk) while `fail_spares`.
class SpareFailingFs final : public ForwardingFs {
 public:
  explicit SpareFailingFs(SimFs& inner) : ForwardingFs(inner) {}
  std::atomic<bool> fail_spares{false};

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    if (mode == OpenMode::CreateNew && fail_spares && path.find("/spare-") != std::string::npos) {
      return Status(ErrorCode::IoError, "open " + path + ": No space left on device");
    }
    return inner_.open(path, mode);
  }
};

std::vector<std::string> spare_names(SimFs& fs) { return names_starting(fs, "spare-"); }

std::string spare_path(uint64_t number) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s/spare-%06llu.wal.tmp", kDir,
                static_cast<unsigned long long>(number));
  return name;
}

TEST(SegmentPipeline, Start_PreparesAPreallocatedSyncedSpare) {
  SimFs fs;
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/false, logger);
  pipeline.start();
  ASSERT_EQ(spare_names(fs), std::vector<std::string>{"spare-000000.wal.tmp"});
  EXPECT_EQ(fs.read_all(spare_path(0)), std::string(kSegmentBytes, '\0'));
  EXPECT_EQ(pipeline.stats().prepared, 1u);
  // Its size is durable (synced), not only in the page cache.
  ASSERT_TRUE(fs.sync_dir(kDir).is_ok());
  EXPECT_EQ(fs.crash_image(0)->read_all(spare_path(0)).size(), kSegmentBytes);
}

TEST(SegmentPipeline, Take_HandsOverTheSpare_PrepareNextMakesTheNext) {
  SimFs fs;
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/false, logger);
  pipeline.start();
  Result<SpareSegment> spare = pipeline.take();
  ASSERT_TRUE(spare.is_ok()) << spare.status().to_string();
  EXPECT_EQ(spare.value().temp_path, spare_path(0));
  ASSERT_TRUE(spare.value().file->write_at(0, "head").is_ok());
  // Nothing is prepared until the taken spare is in place: its writes would delay the
  // rotation's syncs.
  EXPECT_EQ(spare_names(fs), (std::vector<std::string>{"spare-000000.wal.tmp"}));
  pipeline.prepare_next();
  EXPECT_EQ(spare_names(fs),
            (std::vector<std::string>{"spare-000000.wal.tmp", "spare-000001.wal.tmp"}));
  pipeline.prepare_next();  // One is ready: no third.
  EXPECT_EQ(spare_names(fs).size(), 2u);
  EXPECT_EQ(pipeline.stats().prepared, 2u);
  EXPECT_EQ(pipeline.stats().prepared_inline, 0u);
}

TEST(SegmentPipeline, Take_BeforeStartPreparesOnTheCallersThread) {
  SimFs fs;
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/true, logger);
  Result<SpareSegment> spare = pipeline.take();  // As recovery's first segment does.
  ASSERT_TRUE(spare.is_ok());
  EXPECT_EQ(pipeline.stats().prepared_inline, 1u);
  EXPECT_EQ(spare_names(fs).size(), 1u);  // Nothing more until start().
}

TEST(SegmentPipeline, Background_EveryTakeGetsADistinctPreparedFile) {
  SimFs fs;
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/true, logger);
  pipeline.start();
  std::set<std::string> paths;
  for (int i = 0; i < 10; ++i) {
    Result<SpareSegment> spare = pipeline.take();
    ASSERT_TRUE(spare.is_ok()) << spare.status().to_string();
    EXPECT_EQ(fs.read_all(spare.value().temp_path), std::string(kSegmentBytes, '\0'));
    paths.insert(spare.value().temp_path);
    pipeline.prepare_next();
  }
  EXPECT_EQ(paths.size(), 10u);
  // A take() finding the spare still in preparation waits for it rather than making another.
  EXPECT_EQ(pipeline.stats().prepared_inline, 0u);
}

TEST(SegmentPipeline, FailedPreparation_TheNextTakeTriesAgain) {
  SimFs sim;
  SpareFailingFs fs(sim);
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/true, logger);
  fs.fail_spares = true;
  pipeline.start();
  // The background attempt fails; take() tries itself, fails too, and reports why.
  Result<SpareSegment> failed = pipeline.take();
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::IoError);
  EXPECT_NE(failed.status().message().find("No space"), std::string::npos);
  // Space is back: the next take() succeeds on its own thread, then asks for the next again.
  fs.fail_spares = false;
  Result<SpareSegment> spare = pipeline.take();
  ASSERT_TRUE(spare.is_ok()) << spare.status().to_string();
  EXPECT_EQ(pipeline.stats().prepared_inline, 1u);
  pipeline.prepare_next();
  ASSERT_TRUE(pipeline.take().is_ok());
  EXPECT_EQ(pipeline.stats().prepared_inline, 1u);
}

TEST(SegmentPipeline, Destructor_RemovesTheUnusedSpare) {
  SimFs fs;
  NullLogger logger;
  {
    SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/true, logger);
    pipeline.start();
    ASSERT_TRUE(pipeline.take().is_ok());  // spare-000000 is the caller's now.
  }
  EXPECT_EQ(spare_names(fs), std::vector<std::string>{"spare-000000.wal.tmp"});
}

// A file standing in for a compacted segment: an oversized record made it grow past
// kSegmentBytes.
std::string write_old_segment(SimFs& fs, const std::string& name) {
  const std::string path = std::string(kDir) + "/" + name;
  auto file = fs.open(path, OpenMode::CreateNew);
  EXPECT_TRUE(file.is_ok());
  EXPECT_TRUE(file.value()->write_at(0, std::string(kSegmentBytes + 100, 'r')).is_ok());
  EXPECT_TRUE(file.value()->sync().is_ok());
  return path;
}

TEST(SegmentPipeline, Recycle_TheNextSpareIsTheOldSegmentZeroedAndCut) {
  SimFs fs;
  NullLogger logger;
  SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/false, logger);
  pipeline.start();
  ASSERT_TRUE(pipeline.take().is_ok());  // spare-000000: a new file.
  const std::string old_segment = write_old_segment(fs, "00000000000000000001.wal");
  ASSERT_TRUE(pipeline.recycle(old_segment).is_ok());
  EXPECT_TRUE(names_starting(fs, "00000000000000000001.wal").empty());  // Its name is gone...
  EXPECT_EQ(names_starting(fs, "recycled-"),
            std::vector<std::string>{"recycled-000001.wal.tmp"});  // ...to a *.tmp one.
  pipeline.prepare_next();
  EXPECT_TRUE(names_starting(fs, "recycled-").empty());
  EXPECT_EQ(pipeline.stats().recycled, 1u);
  Result<SpareSegment> spare = pipeline.take();
  ASSERT_TRUE(spare.is_ok()) << spare.status().to_string();
  EXPECT_EQ(spare.value().temp_path, spare_path(2));
  EXPECT_EQ(fs.read_all(spare_path(2)), std::string(kSegmentBytes, '\0'));
  // Durably so: the zeros and the cut survive a crash.
  ASSERT_TRUE(fs.sync_dir(kDir).is_ok());
  EXPECT_EQ(fs.crash_image(0)->read_all(spare_path(2)), std::string(kSegmentBytes, '\0'));
}

TEST(SegmentPipeline, Recycle_BeyondTheMaximumRemovesAndTheDestructorCleansUp) {
  SimFs fs;
  NullLogger logger;
  {
    SegmentPipeline pipeline(fs, kDir, kSegmentBytes, /*background=*/false, logger);
    for (size_t i = 0; i <= SegmentPipeline::kRecycledMax; ++i) {
      const std::string name = std::to_string(i) + ".wal";
      ASSERT_TRUE(pipeline.recycle(write_old_segment(fs, name)).is_ok());
      EXPECT_TRUE(names_starting(fs, name).empty());
    }
    EXPECT_EQ(names_starting(fs, "recycled-").size(), SegmentPipeline::kRecycledMax);
  }
  EXPECT_TRUE(names_starting(fs, "recycled-").empty());
}

TEST(Rotation, CompactedSegmentsBecomeSparesAndTheLogReplays) {
  SimFs fs;
  {
    auto storage = open_or_die(sim_options(fs, 4096));
    for (uint64_t i = 1; i < 201; i += 5) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 50)).is_ok());
    }
    ASSERT_TRUE(storage->create_snapshot(Index{150}, {{NodeId{1}}, {}, {}}, "state@150").is_ok());
    ASSERT_TRUE(storage->compact(Index{150}).is_ok());
    const uint64_t waiting = names_starting(fs, "recycled-").size();
    EXPECT_GT(waiting, 0u);
    for (uint64_t i = 201; i < 401; i += 5) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 5, 1, 50)).is_ok());
    }
    EXPECT_EQ(storage->details().pipeline.recycled, waiting);  // Every one used since.
    EXPECT_TRUE(names_starting(fs, "recycled-").empty());
  }
  // Nothing of the old records shows through: replay reads exactly the log.
  auto reopened = open_or_die(sim_options(fs, 4096));
  EXPECT_EQ(all_entries(*reopened), make_entries(151, 401, 1, 50));
}

TEST(Rotation, UsesPreparedSparesAndKeepsOneReady) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs, 4096));
  for (uint64_t i = 1; i <= 200; i += 4) {
    ASSERT_TRUE(storage->append(make_entries(i, i + 4, 1, 100)).is_ok());
  }
  const uint64_t segments = storage->stats().segments;
  const SegmentPipeline::Stats pipeline = storage->details().pipeline;
  ASSERT_GT(segments, 5u);
  EXPECT_EQ(storage->stats().rotations, segments - 1);  // Nothing compacted away yet.
  // Only the first segment (created by open, before the pipeline starts) made its own file.
  EXPECT_EQ(pipeline.prepared_inline, 1u);
  EXPECT_EQ(pipeline.prepared, segments);  // One per rotation, plus the ready one.
  EXPECT_EQ(spare_names(fs).size(), 1u);
  storage.reset();
  EXPECT_TRUE(spare_names(fs).empty());  // A clean close leaves no spare behind.
  auto reopened = open_or_die(sim_options(fs, 4096));
  EXPECT_EQ(all_entries(*reopened), make_entries(1, 201, 1, 100));
}

TEST(Rotation, LeftoverSpareIsRemovedOnOpenNotReportedAsDamage) {
  SimFs fs;
  auto storage = open_or_die(sim_options(fs, 4096));
  ASSERT_TRUE(storage->append(make_entries(1, 100, 1, 100)).is_ok());
  ASSERT_EQ(spare_names(fs).size(), 1u);
  ASSERT_TRUE(fs.sync_dir(kDir).is_ok());  // The spare's name survives the crash.
  const std::unique_ptr<SimFs> image = fs.crash_image(0);
  const std::string leftover = spare_names(*image).at(0);
  CaptureLogger logger;
  auto recovered = open_or_die(sim_options(*image, 4096, &logger));
  ASSERT_NE(recovered, nullptr);
  EXPECT_TRUE(logger.contains("removing unfinished file " + leftover));
  EXPECT_EQ(all_entries(*recovered), make_entries(1, 100, 1, 100));
  EXPECT_EQ(spare_names(*image).size(), 1u);  // The new storage's own.
}

// On a real directory, with the pipeline's thread: many rotations, then everything replays.
TEST(Rotation, BackgroundPipelineOnARealDirectory) {
  TempDir temp;
  const std::string dir = temp.path() + "/data";
  {
    auto storage = open_real_or_die(dir, 4096);
    ASSERT_NE(storage, nullptr);
    for (uint64_t i = 1; i <= 300; i += 3) {
      ASSERT_TRUE(storage->append(make_entries(i, i + 3, 1, 200)).is_ok());
    }
    EXPECT_GT(storage->stats().segments, 10u);
  }
  auto reopened = open_real_or_die(dir, 4096);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(all_entries(*reopened), make_entries(1, 301, 1, 200));
}

}  // namespace
}  // namespace raftkv::storage
