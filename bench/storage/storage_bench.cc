// storage_bench: append throughput with fdatasync (one writer; many appenders through group
// commit; one writer beside snapshot writers), and replay speed plus peak memory of a large
// log. Run through bench/storage/run.sh, which measures the disk with fio in the same run and
// prints ratios.
//
//   storage_bench --dir D --mode append --record-bytes 100 --seconds 3
//   storage_bench --dir D --mode append --record-bytes 4096 --segment-bytes 1048576  # rotations
//   storage_bench --dir D --mode group --record-bytes 100 --appenders 64 --seconds 3
//   storage_bench --dir D --mode write-log --log-bytes 1073741824
//   storage_bench --dir D --mode replay          # a separate process: its peak RSS is replay's
//   storage_bench --dir D --mode group --fake-sync-us 125  # a steady 125 us "fdatasync"
//   storage_bench --dir D --mode snapshot --snapshot-writers 3 --snapshot-bytes 268435456
//   storage_bench --dir D --mode read-log --record-bytes 300 --entries 100000  # a leader's
//                                                        # reads of an uncached log tail
// Each mode prints one line of key=value pairs.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/disk_storage.h"
#include "storage/snapshot_file.h"

namespace raftkv::storage {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds (user + system) this process has used so far, every thread: the spare-segment
// preparation runs on its own thread, and what it costs counts here too.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// The real file system, except that File::sync() sleeps a fixed time instead of calling
// fdatasync: a disk whose sync latency is known and steady, so what a run measures beyond it
// is the storage's own CPU and hand-off cost (--fake-sync-us; NOT durable, figures only).
class FixedSyncFs final : public Fs {
 public:
  explicit FixedSyncFs(std::chrono::microseconds sync_time) : sync_time_(sync_time) {}

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    Result<std::unique_ptr<File>> file = posix_fs().open(path, mode);
    if (!file.is_ok()) return file;
    return std::unique_ptr<File>(std::make_unique<FixedSyncFile>(std::move(file.value()),
                                                                 sync_time_));
  }
  Status rename(const std::string& from, const std::string& to) override {
    return posix_fs().rename(from, to);
  }
  Status remove(const std::string& path) override { return posix_fs().remove(path); }
  Status sync_dir(const std::string& dir) override { return posix_fs().sync_dir(dir); }
  Status create_dir(const std::string& dir) override { return posix_fs().create_dir(dir); }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    return posix_fs().list(dir);
  }

 private:
  class FixedSyncFile final : public File {
   public:
    FixedSyncFile(std::unique_ptr<File> inner, std::chrono::microseconds sync_time)
        : inner_(std::move(inner)), sync_time_(sync_time) {}
    Status write_at(uint64_t offset, std::string_view bytes) override {
      return inner_->write_at(offset, bytes);
    }
    Result<size_t> read_at(uint64_t offset, char* out, size_t size) const override {
      return inner_->read_at(offset, out, size);
    }
    Status sync() override {
      std::this_thread::sleep_for(sync_time_);
      return Status::ok();
    }
    Status allocate(uint64_t size) override { return inner_->allocate(size); }
    Status truncate(uint64_t size) override { return inner_->truncate(size); }
    Result<uint64_t> size() const override { return inner_->size(); }
    const std::string& path() const override { return inner_->path(); }

   private:
    std::unique_ptr<File> inner_;
    std::chrono::microseconds sync_time_;
  };

  std::chrono::microseconds sync_time_;
};

// Set by --fake-sync-us; nullptr: the real file system.
Fs* fake_sync_fs = nullptr;

std::unique_ptr<DiskStorage> open_or_exit(const std::string& dir, uint64_t segment_bytes) {
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  DiskStorageOptions options;
  options.fs = fake_sync_fs;
  options.segment_bytes = segment_bytes;
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(dir, options);
  if (!storage.is_ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), storage.status().to_string().c_str());
    std::exit(2);
  }
  return std::move(storage.value());
}

struct Config {
  std::string dir;
  size_t record_bytes = 100;
  uint64_t segment_bytes = kSegmentBytesDefault;
  int appenders = 64;
  int inflight = 1;
  double seconds = 3;
  int snapshot_writers = 3;
  uint64_t snapshot_bytes = 256u << 20;
  double snapshot_mib_per_s = 150;
};

raft::Entry entry_at(uint64_t index, size_t bytes) {
  return raft::Entry{Term{1}, Index{index}, raft::EntryType::Normal, std::string(bytes, 'v')};
}

// Latency summary of `latencies_us` (sorted in place) as key=value pairs, keys prefixed.
std::string latency_fields(const std::string& prefix, std::vector<double>& latencies_us) {
  if (latencies_us.empty()) return prefix + "_count=0";
  std::sort(latencies_us.begin(), latencies_us.end());
  double sum = 0;
  for (double value : latencies_us) sum += value;
  const size_t count = latencies_us.size();
  char out[256];
  std::snprintf(out, sizeof(out),
                "%s_count=%zu %s_us_mean=%.1f %s_us_p50=%.1f %s_us_p99=%.1f %s_us_max=%.1f",
                prefix.c_str(), count, prefix.c_str(), sum / static_cast<double>(count),
                prefix.c_str(), latencies_us[count / 2], prefix.c_str(),
                latencies_us[count * 99 / 100], prefix.c_str(), latencies_us.back());
  return out;
}

// One writer: each append waits for its own fdatasync before the next. Appends that started a
// new segment are also summarized apart (the rotation stall), and so are the others.
int run_append(const Config& config) {
  auto storage = open_or_exit(config.dir, config.segment_bytes);
  std::vector<double> latencies_us;
  std::vector<double> rotating_us;
  std::vector<double> other_us;
  uint64_t next = storage->last_index().value() + 1;
  size_t segments = storage->stats().segments;
  const double cpu_start = cpu_seconds();
  const auto start = Clock::now();
  while (seconds_since(start) < config.seconds) {
    const raft::Entry entry = entry_at(next++, config.record_bytes);
    const auto before = Clock::now();
    Status saved = storage->append({entry});
    const double latency_us = seconds_since(before) * 1e6;
    if (!saved.is_ok()) return std::fprintf(stderr, "%s\n", saved.to_string().c_str()), 1;
    latencies_us.push_back(latency_us);
    const size_t segments_now = storage->stats().segments;
    (segments_now != segments ? rotating_us : other_us).push_back(latency_us);
    segments = segments_now;
  }
  const double elapsed = seconds_since(start);
  const double per_s = static_cast<double>(latencies_us.size()) / elapsed;
  const double cpu_us_per_append =
      (cpu_seconds() - cpu_start) * 1e6 / static_cast<double>(latencies_us.size());
  std::printf("mode=append record_bytes=%zu segment_bytes=%llu appends=%zu per_s=%.0f "
              "cpu_us_per_append=%.1f %s %s %s\n",
              config.record_bytes, static_cast<unsigned long long>(config.segment_bytes),
              latencies_us.size(), per_s, cpu_us_per_append,
              latency_fields("latency", latencies_us).c_str(),
              latency_fields("rotating", rotating_us).c_str(),
              latency_fields("other", other_us).c_str());
  return 0;
}

// Many appenders: each takes the next index (the runtime's order), queues its record, and
// waits for durability; records queued during one fdatasync share the next. Latency is per
// record, from before taking the order lock to wait_durable's return; "wait" is the part
// from write()'s return (the storage's group commit alone).
int run_group(const Config& config) {
  auto storage = open_or_exit(config.dir, config.segment_bytes);
  std::mutex order;
  std::atomic<uint64_t> durable{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  const uint64_t syncs_before = storage->stats().syncs;
  std::vector<std::thread> threads;
  std::vector<std::vector<double>> latencies_us(static_cast<size_t>(config.appenders));
  std::vector<std::vector<double>> durable_us(static_cast<size_t>(config.appenders));
  const auto start = Clock::now();
  for (int t = 0; t < config.appenders; ++t) {
    threads.emplace_back([&, t] {
      // Up to `inflight` records of this appender await durability at once (a pipelining
      // client); with 1, each waits for its record before sending the next. Indexes are
      // handed out in order under `order`; the wait for durability happens outside it.
      struct Pending {
        SyncTicket ticket;
        Clock::time_point before;  // Before taking `order`.
        Clock::time_point queued;  // write() returned.
      };
      std::deque<Pending> pending;
      std::vector<double>& mine = latencies_us[static_cast<size_t>(t)];
      std::vector<double>& mine_durable = durable_us[static_cast<size_t>(t)];
      while (!stop.load() || !pending.empty()) {
        if (!stop.load() && pending.size() < static_cast<size_t>(config.inflight)) {
          const auto before = Clock::now();
          std::lock_guard<std::mutex> lock(order);
          const uint64_t next = storage->last_index().value() + 1;
          Result<SyncTicket> ticket =
              storage->write({entry_at(next, config.record_bytes)}, std::nullopt);
          if (!ticket.is_ok()) failed = true;
          if (!ticket.is_ok()) return;
          pending.push_back(Pending{ticket.value(), before, Clock::now()});
          continue;
        }
        if (!storage->wait_durable(pending.front().ticket).is_ok()) failed = true;
        mine.push_back(seconds_since(pending.front().before) * 1e6);
        mine_durable.push_back(seconds_since(pending.front().queued) * 1e6);
        pending.pop_front();
        ++durable;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(config.seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  const double elapsed = seconds_since(start);
  const uint64_t syncs = storage->stats().syncs - syncs_before;
  std::vector<double> all_us;
  for (const std::vector<double>& mine : latencies_us) {
    all_us.insert(all_us.end(), mine.begin(), mine.end());
  }
  std::vector<double> all_durable_us;
  for (const std::vector<double>& mine : durable_us) {
    all_durable_us.insert(all_durable_us.end(), mine.begin(), mine.end());
  }
  std::printf(
      "mode=group record_bytes=%zu appenders=%d inflight=%d records=%llu per_s=%.0f "
      "syncs=%llu records_per_sync=%.1f %s %s failed=%d\n",
      config.record_bytes, config.appenders, config.inflight,
      static_cast<unsigned long long>(durable.load()),
      static_cast<double>(durable.load()) / elapsed, static_cast<unsigned long long>(syncs),
      static_cast<double>(durable.load()) / static_cast<double>(std::max<uint64_t>(syncs, 1)),
      latency_fields("latency", all_us).c_str(), latency_fields("wait", all_durable_us).c_str(),
      failed.load() ? 1 : 0);
  return failed.load() ? 1 : 0;
}

// One writer appending as in append mode while `snapshot_writers` threads each write a snapshot
// of `snapshot_bytes` through SnapshotWriter, in 64 KiB writes paced at `snapshot_mib_per_s`
// (about what serializing the state machine produces). That is three nodes on one disk, each
// snapshotting while the WAL syncs: what the snapshots' write-back does to the appends'
// fdatasync latency. The appends are timed only while the snapshots are being written.
int run_snapshot(const Config& config) {
  auto storage = open_or_exit(config.dir + "/wal", config.segment_bytes);
  std::atomic<int> writing{config.snapshot_writers};
  std::atomic<bool> failed{false};
  std::vector<double> snapshot_seconds(static_cast<size_t>(config.snapshot_writers));
  std::vector<std::thread> writers;
  for (int w = 0; w < config.snapshot_writers; ++w) {
    writers.emplace_back([&, w] {
      const std::string dir = config.dir + "/snap" + std::to_string(w);
      std::error_code ignored;
      std::filesystem::create_directories(dir, ignored);
      Result<std::unique_ptr<SnapshotWriter>> writer =
          SnapshotWriter::create(posix_fs(), dir, raft::SnapshotMeta{Index{1}, Term{1}, {}});
      const std::string chunk(64 << 10, 's');
      const auto start = Clock::now();
      bool ok = writer.is_ok();
      for (uint64_t done = 0; ok && done < config.snapshot_bytes; done += chunk.size()) {
        ok = writer.value()->write(chunk).is_ok();
        const double due = static_cast<double>(done + chunk.size()) /
                           (config.snapshot_mib_per_s * (1 << 20));
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(due)));
      }
      ok = ok && writer.value()->finish().is_ok();
      snapshot_seconds[static_cast<size_t>(w)] = seconds_since(start);
      if (!ok) failed = true;
      --writing;
    });
  }
  std::vector<double> latencies_us;
  uint64_t next = storage->last_index().value() + 1;
  while (writing.load() > 0) {
    const auto before = Clock::now();
    Status saved = storage->append({entry_at(next++, config.record_bytes)});
    if (!saved.is_ok()) failed = true;
    if (!saved.is_ok()) break;
    latencies_us.push_back(seconds_since(before) * 1e6);
  }
  for (std::thread& writer : writers) writer.join();
  const double slowest = *std::max_element(snapshot_seconds.begin(), snapshot_seconds.end());
  std::printf("mode=snapshot record_bytes=%zu snapshot_writers=%d snapshot_bytes=%llu "
              "snapshot_seconds_max=%.2f %s failed=%d\n",
              config.record_bytes, config.snapshot_writers,
              static_cast<unsigned long long>(config.snapshot_bytes), slowest,
              latency_fields("latency", latencies_us).c_str(), failed.load() ? 1 : 0);
  return failed.load() ? 1 : 0;
}

// Writes `log_bytes` of 4 KiB entries in batches (synced per batch, as a busy leader would).
int run_write_log(const std::string& dir, uint64_t log_bytes) {
  auto storage = open_or_exit(dir, kSegmentBytesDefault);
  constexpr size_t kEntryBytes = 4096;
  constexpr uint64_t kBatch = 256;
  uint64_t next = storage->last_index().value() + 1;
  const uint64_t count = log_bytes / kEntryBytes;
  const auto start = Clock::now();
  for (uint64_t written = 0; written < count; written += kBatch) {
    std::vector<raft::Entry> batch;
    for (uint64_t i = 0; i < kBatch; ++i) batch.push_back(entry_at(next++, kEntryBytes));
    Status saved = storage->append(batch);
    if (!saved.is_ok()) return std::fprintf(stderr, "%s\n", saved.to_string().c_str()), 1;
  }
  std::printf("mode=write-log entries=%llu seconds=%.2f segments=%zu\n",
              static_cast<unsigned long long>(next - 1), seconds_since(start),
              storage->stats().segments);
  return 0;
}

// A leader feeding a lagging peer reads its log tail back from the WAL, past the entry cache,
// one message (1 MiB, raft::Config::message_bytes_max) per call on its loop thread (issue 15).
// Writes `entries` entries of `record_bytes` in batches of 256, reopens (the cache starts
// empty), then reads them all back `rounds` times (the page cache is warm after the first).
int run_read_log(const Config& config, uint64_t entries, int rounds) {
  constexpr uint64_t kMessageBytes = 1u << 20;
  {
    auto storage = open_or_exit(config.dir, config.segment_bytes);
    uint64_t next = storage->last_index().value() + 1;
    while (next <= entries) {
      std::vector<raft::Entry> batch;
      for (int i = 0; i < 256 && next <= entries; ++i) {
        batch.push_back(entry_at(next++, config.record_bytes));
      }
      Status saved = storage->append(batch);
      if (!saved.is_ok()) return std::fprintf(stderr, "%s\n", saved.to_string().c_str()), 1;
    }
  }
  auto storage = open_or_exit(config.dir, config.segment_bytes);
  const Index end = storage->last_index() + 1;
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> call_us;
    uint64_t bytes = 0;
    const auto start = Clock::now();
    for (Index next = storage->first_index(); next < end;) {
      const auto before = Clock::now();
      Result<std::vector<raft::Entry>> got = storage->entries(next, end, kMessageBytes);
      call_us.push_back(seconds_since(before) * 1e6);
      if (!got.is_ok()) return std::fprintf(stderr, "%s\n", got.status().to_string().c_str()), 1;
      for (const raft::Entry& entry : got.value()) bytes += entry.size_bytes();
      next = got.value().back().index + 1;
    }
    const double elapsed = seconds_since(start);
    std::printf("mode=read-log round=%d entries=%llu record_bytes=%zu seconds=%.3f "
                "entries_per_s=%.0f mib_per_s=%.0f %s\n",
                round, static_cast<unsigned long long>(end.value() - 1), config.record_bytes,
                elapsed, static_cast<double>(end.value() - 1) / elapsed,
                static_cast<double>(bytes) / elapsed / (1 << 20),
                latency_fields("call", call_us).c_str());
  }
  return 0;
}

// Opens (replays) the directory; meant to run in its own process so ru_maxrss is replay's.
int run_replay(const std::string& dir) {
  const long rss_before = peak_rss_kib();
  const auto start = Clock::now();
  auto storage = open_or_exit(dir, kSegmentBytesDefault);
  const double elapsed = seconds_since(start);
  const uint64_t entries = storage->last_index().value() - storage->first_index().value() + 1;
  const double bytes = static_cast<double>(entries) * (4096.0 + 24.0);  // Approximate WAL size.
  std::printf(
      "mode=replay entries=%llu segments=%zu seconds=%.3f mib_per_s=%.0f "
      "peak_rss_mib=%.1f rss_before_mib=%.1f\n",
      static_cast<unsigned long long>(entries), storage->stats().segments, elapsed,
      bytes / elapsed / (1 << 20), static_cast<double>(peak_rss_kib()) / 1024.0,
      static_cast<double>(rss_before) / 1024.0);
  return 0;
}

}  // namespace
}  // namespace raftkv::storage

int main(int argc, char** argv) {
  CLI::App app{"storage_bench: WAL append, group commit and replay figures"};
  raftkv::storage::Config config;
  std::string mode = "append";
  uint64_t log_bytes = 64u << 20;
  uint64_t entries = 100000;
  int rounds = 3;
  app.add_option("--dir", config.dir, "Data directory (created; must be empty for a clean figure)")
      ->required();
  app.add_option("--mode", mode, "append | group | snapshot | write-log | replay | read-log");
  app.add_option("--record-bytes", config.record_bytes, "Entry payload size");
  app.add_option("--segment-bytes", config.segment_bytes, "WAL segment size (append and group)");
  app.add_option("--appenders", config.appenders, "Concurrent appenders (group mode)");
  app.add_option("--inflight", config.inflight, "Records each appender keeps awaiting durability");
  app.add_option("--seconds", config.seconds, "Duration of append and group modes");
  app.add_option("--log-bytes", log_bytes, "Log size for write-log (1 GiB for the real run)");
  app.add_option("--snapshot-writers", config.snapshot_writers, "Snapshots written at once");
  app.add_option("--snapshot-bytes", config.snapshot_bytes, "Size of each snapshot");
  app.add_option("--snapshot-mib-per-s", config.snapshot_mib_per_s,
                 "Pace of each snapshot writer")
      ->check(CLI::PositiveNumber);
  app.add_option("--entries", entries, "Entries written, then read back (read-log)");
  app.add_option("--rounds", rounds, "Passes over the log (read-log)");
  int fake_sync_us = 0;
  app.add_option("--fake-sync-us", fake_sync_us,
                 "Sleep this long instead of each fdatasync (CPU cost alone; not durable)");
  CLI11_PARSE(app, argc, argv);
  using namespace raftkv::storage;
  std::unique_ptr<Fs> fake;
  if (fake_sync_us > 0) {
    fake = std::make_unique<FixedSyncFs>(std::chrono::microseconds(fake_sync_us));
    fake_sync_fs = fake.get();
  }
  if (mode == "append") return run_append(config);
  if (mode == "group") return run_group(config);
  if (mode == "snapshot") return run_snapshot(config);
  if (mode == "write-log") return run_write_log(config.dir, log_bytes);
  if (mode == "replay") return run_replay(config.dir);
  if (mode == "read-log") return run_read_log(config, entries, rounds);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
