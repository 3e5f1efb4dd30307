// large_value_floor: the rate at which a 3-node cluster whose nodes share one disk can at best
// replicate large values, with no Raft, network or encoding in it. Three writer threads stand
// in for the three nodes' WALs: each appends every value, with fdatasync, to its own file on
// the same disk, all at once. A value is "committed" when two of the three have synced it
// (a majority); the next value is handed out then, one value after another, as one client
// writing values back to back. A writer that falls behind (the slowest node) keeps writing
// the values it has missed, as a follower catches up, but at most kLagValuesMax behind the
// newest value: Raft's leader bounds what is in flight to a follower too.
//
// Every committed value has been written (and synced) at least twice to the one disk, and in
// steady state three times, so on one disk this rate is at most a half to a third of fio's
// sequential rate; on three disks (as deployed) it would be the disk's own rate.
// bench/large_values.sh runs it beside fio and raftkv and reports raftkv against both.
//
//   large_value_floor --dir D [--value-mib 16] [--values 16] [--warmup-values 2]
// prints one JSON line: {"values":..,"value_mib":..,"mib_per_s":..,"p50_ms":..,"max_ms":..}.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "floor_file.h"

namespace {

using floor_file::die;
using floor_file::LogFile;

constexpr size_t kNodes = 3;
constexpr size_t kMajority = kNodes / 2 + 1;
// How many values the slowest writer may be behind the newest one handed out.
constexpr uint64_t kLagValuesMax = 2;
// Each file holds this many values before its appends wrap (64 MiB for 16 MiB values, a WAL
// segment's size), so the files stay small and are written with zeros before the clock starts.
constexpr uint64_t kFileValues = 4;

// The values handed out and each writer's progress. Guarded by `mutex`.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t handed_out = 0;               // Values [1, handed_out] may be written.
  std::array<uint64_t, kNodes> synced{};  // Values [1, synced[n]] are durable on writer n.
  bool done = false;                      // No more values will be handed out.
};

// One node's WAL: appends each value handed out, in order, and records its sync.
void run_writer(Progress& progress, size_t node, LogFile& log, const std::vector<char>& value) {
  for (;;) {
    {
      std::unique_lock lock(progress.mutex);
      progress.changed.wait(lock, [&] {
        return progress.done || progress.synced[node] < progress.handed_out;
      });
      if (progress.synced[node] == progress.handed_out) return;  // Done and caught up.
    }
    log.append_durably(value.data(), value.size());
    {
      const std::lock_guard lock(progress.mutex);
      ++progress.synced[node];
    }
    progress.changed.notify_all();
  }
}

// How many writers have synced `value`.
size_t synced_count(const Progress& progress, uint64_t value) {
  return static_cast<size_t>(std::count_if(progress.synced.begin(), progress.synced.end(),
                                           [value](uint64_t synced) { return synced >= value; }));
}

// Hands out `count` values one after another, each once the previous one is committed and
// the slowest writer is within kLagValuesMax; returns each value's commit latency in ms.
std::vector<double> write_values(Progress& progress, uint64_t count) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> latencies_ms;
  for (uint64_t i = 0; i < count; ++i) {
    std::unique_lock lock(progress.mutex);
    progress.changed.wait(lock, [&] {
      const uint64_t slowest = *std::min_element(progress.synced.begin(), progress.synced.end());
      return progress.handed_out - slowest < kLagValuesMax;
    });
    const Clock::time_point start = Clock::now();
    const uint64_t value = ++progress.handed_out;
    progress.changed.notify_all();
    progress.changed.wait(lock, [&] { return synced_count(progress, value) >= kMajority; });
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return latencies_ms;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  double value_mib = 16;
  uint64_t values = 16;
  uint64_t warmup_values = 2;
  CLI::App app{"The best rate a 3-node cluster on one disk can replicate large values at"};
  app.add_option("--dir", dir, "Directory for the three nodes' files (on the disk to measure)")
      ->required();
  app.add_option("--value-mib", value_mib, "Size of each value")->check(CLI::Range(0.001, 256.0));
  app.add_option("--values", values, "Values measured")->check(CLI::Range(1, 100000));
  app.add_option("--warmup-values", warmup_values, "Values written before measuring")
      ->check(CLI::Range(0, 1000));
  CLI11_PARSE(app, argc, argv);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir " + dir);

  const auto value_bytes = static_cast<size_t>(value_mib * (1 << 20));
  const std::vector<char> value(value_bytes, 'v');
  const auto file_bytes = static_cast<off_t>(value_bytes * kFileValues);
  std::vector<std::string> paths;
  std::vector<std::unique_ptr<LogFile>> logs;
  for (size_t node = 0; node < kNodes; ++node) {
    paths.push_back(dir + "/node" + std::to_string(node + 1) + ".log");
    logs.push_back(std::make_unique<LogFile>(paths.back(), file_bytes));
  }
  Progress progress;
  std::vector<std::thread> writers;
  for (size_t node = 0; node < kNodes; ++node) {
    writers.emplace_back(run_writer, std::ref(progress), node, std::ref(*logs[node]),
                         std::cref(value));
  }
  write_values(progress, warmup_values);
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> latencies_ms = write_values(progress, values);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    const std::lock_guard lock(progress.mutex);
    progress.done = true;
  }
  progress.changed.notify_all();
  for (std::thread& writer : writers) writer.join();
  logs.clear();
  for (const std::string& path : paths) ::unlink(path.c_str());

  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("{\"values\":%lu,\"value_mib\":%.3f,\"mib_per_s\":%.1f,\"p50_ms\":%.1f,"
              "\"max_ms\":%.1f}\n",
              static_cast<unsigned long>(values), value_mib,
              static_cast<double>(values) * value_mib / seconds,
              latencies_ms[latencies_ms.size() / 2], latencies_ms.back());
  return 0;
}
