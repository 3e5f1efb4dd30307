// storage_bench: append throughput with fdatasync (one writer; many appenders through group
// commit), and replay speed plus peak memory of a large log. Run through bench/storage/run.sh,
// which measures the disk with fio in the same run and prints ratios.
//
//   storage_bench --dir D --mode append --record-bytes 100 --seconds 3
//   storage_bench --dir D --mode group --record-bytes 100 --appenders 64 --seconds 3
//   storage_bench --dir D --mode write-log --log-bytes 1073741824
//   storage_bench --dir D --mode replay          # a separate process: its peak RSS is replay's
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

namespace raftkv::storage {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::unique_ptr<DiskStorage> open_or_exit(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  Result<std::unique_ptr<DiskStorage>> storage = DiskStorage::open(dir, {});
  if (!storage.is_ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), storage.status().to_string().c_str());
    std::exit(2);
  }
  return std::move(storage.value());
}

raft::Entry entry_at(uint64_t index, size_t bytes) {
  return raft::Entry{Term{1}, Index{index}, raft::EntryType::Normal, std::string(bytes, 'v')};
}

// One writer: each append waits for its own fdatasync before the next.
int run_append(const std::string& dir, size_t record_bytes, double seconds) {
  auto storage = open_or_exit(dir);
  std::vector<double> latencies_us;
  uint64_t next = storage->last_index().value() + 1;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    const auto before = Clock::now();
    Status saved = storage->append({entry_at(next++, record_bytes)});
    if (!saved.is_ok()) return std::fprintf(stderr, "%s\n", saved.to_string().c_str()), 1;
    latencies_us.push_back(seconds_since(before) * 1e6);
  }
  const double elapsed = seconds_since(start);
  std::sort(latencies_us.begin(), latencies_us.end());
  double sum = 0;
  for (double value : latencies_us) sum += value;
  std::printf(
      "mode=append record_bytes=%zu appends=%zu per_s=%.0f latency_us_mean=%.1f "
      "latency_us_p50=%.1f latency_us_p99=%.1f\n",
      record_bytes, latencies_us.size(), static_cast<double>(latencies_us.size()) / elapsed,
      sum / static_cast<double>(latencies_us.size()), latencies_us[latencies_us.size() / 2],
      latencies_us[latencies_us.size() * 99 / 100]);
  return 0;
}

// Many appenders: each takes the next index (the runtime's order), queues its record, and
// waits for durability; records queued during one fdatasync share the next.
int run_group(const std::string& dir, size_t record_bytes, int appenders, int inflight,
              double seconds) {
  auto storage = open_or_exit(dir);
  std::mutex order;
  std::atomic<uint64_t> durable{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  const uint64_t syncs_before = storage->stats().syncs;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&] {
      // Up to `inflight` records of this appender await durability at once (a pipelining
      // client); with 1, each waits for its record before sending the next. Indexes are
      // handed out in order under `order`; the wait for durability happens outside it.
      std::deque<SyncTicket> pending;
      while (!stop.load() || !pending.empty()) {
        if (!stop.load() && pending.size() < static_cast<size_t>(inflight)) {
          std::lock_guard<std::mutex> lock(order);
          const uint64_t next = storage->last_index().value() + 1;
          Result<SyncTicket> ticket =
              storage->save_nowait({entry_at(next, record_bytes)}, std::nullopt);
          if (!ticket.is_ok()) failed = true;
          if (!ticket.is_ok()) return;
          pending.push_back(ticket.value());
          continue;
        }
        if (!storage->wait_durable(pending.front()).is_ok()) failed = true;
        pending.pop_front();
        ++durable;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  const double elapsed = seconds_since(start);
  const uint64_t syncs = storage->stats().syncs - syncs_before;
  std::printf(
      "mode=group record_bytes=%zu appenders=%d inflight=%d records=%llu per_s=%.0f "
      "syncs=%llu records_per_sync=%.1f failed=%d\n",
      record_bytes, appenders, inflight, static_cast<unsigned long long>(durable.load()),
      static_cast<double>(durable.load()) / elapsed, static_cast<unsigned long long>(syncs),
      static_cast<double>(durable.load()) / static_cast<double>(std::max<uint64_t>(syncs, 1)),
      failed.load() ? 1 : 0);
  return failed.load() ? 1 : 0;
}

// Writes `log_bytes` of 4 KiB entries in batches (synced per batch, as a busy leader would).
int run_write_log(const std::string& dir, uint64_t log_bytes) {
  auto storage = open_or_exit(dir);
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

// Opens (replays) the directory; meant to run in its own process so ru_maxrss is replay's.
int run_replay(const std::string& dir) {
  const long rss_before = peak_rss_kib();
  const auto start = Clock::now();
  auto storage = open_or_exit(dir);
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
  std::string dir;
  std::string mode = "append";
  size_t record_bytes = 100;
  int appenders = 64;
  int inflight = 1;
  double seconds = 3;
  uint64_t log_bytes = 64u << 20;
  app.add_option("--dir", dir, "Data directory (created; must be empty for a clean figure)")
      ->required();
  app.add_option("--mode", mode, "append | group | write-log | replay");
  app.add_option("--record-bytes", record_bytes, "Entry payload size");
  app.add_option("--appenders", appenders, "Concurrent appenders (group mode)");
  app.add_option("--inflight", inflight, "Records each appender keeps awaiting durability");
  app.add_option("--seconds", seconds, "Duration of append and group modes");
  app.add_option("--log-bytes", log_bytes, "Log size for write-log (1 GiB for the real run)");
  CLI11_PARSE(app, argc, argv);
  using namespace raftkv::storage;
  if (mode == "append") return run_append(dir, record_bytes, seconds);
  if (mode == "group") return run_group(dir, record_bytes, appenders, inflight, seconds);
  if (mode == "write-log") return run_write_log(dir, log_bytes);
  if (mode == "replay") return run_replay(dir);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
