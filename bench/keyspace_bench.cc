// The key space's own cost per operation as it grows, without a network or a disk: writes of
// fresh 16-byte keys with 256-byte values, and lookups of present keys, at 100k to 3M keys,
// with keys in ascending order (counters, timestamps: raftkv-bench's fresh keys) or at random
// (redis-benchmark's -r). It isolates the tree walk that perf shows as the largest user-space
// item on every node under random writes (issue 20), and what prefetching a run of keys saves
// when the trie is out of the cache. Run:
//   build/release/bench/keyspace_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kv/keyspace.h"

namespace raftkv::kv {
namespace {

// Key number n as a 16-byte key: "key:" and 12 digits, as redis-benchmark names its keys.
std::string key_of(uint64_t n) {
  std::string key = "key:000000000000";
  for (size_t i = key.size() - 1; n > 0 && i >= 4; --i, n /= 10) {
    key[i] = static_cast<char>('0' + n % 10);
  }
  return key;
}

// The n-th key to write: ascending numbers, or a fixed pseudo-random permutation of them.
uint64_t key_number(uint64_t n, bool ascending) {
  // Multiplying by a constant prime to 10^12 (neither even nor a multiple of 5), modulo
  // 10^12, permutes the numbers below 10^12: distinct keys in a scattered order.
  constexpr auto kModulus = static_cast<unsigned __int128>(1'000'000'000'000ull);
  constexpr auto kFactor = static_cast<unsigned __int128>(780'291'637'013ull);
  return ascending ? n : static_cast<uint64_t>(n * kFactor % kModulus);
}

Keyspace filled(uint64_t keys, bool ascending) {
  Keyspace space;
  for (uint64_t n = 0; n < keys; ++n) {
    space.put(key_of(key_number(n, ascending)), Value::of_string(std::string(256, 'v')),
              Index(n + 1));
  }
  return space;
}

// Writes fresh keys into a key space of range(0) keys; range(1) = 1 for ascending keys.
void BM_PutFreshKey(benchmark::State& state) {
  const auto keys = static_cast<uint64_t>(state.range(0));
  const bool ascending = state.range(1) == 1;
  Keyspace space = filled(keys, ascending);
  uint64_t n = keys;
  const std::string value(256, 'v');
  for (auto _ : state) {
    space.put(key_of(key_number(n, ascending)), Value::of_string(value), Index(n + 1));
    ++n;
  }
  state.counters["keys"] = static_cast<double>(space.size());
}

// Looks up present keys at random in a key space of range(0) keys.
void BM_FindPresentKey(benchmark::State& state) {
  const auto keys = static_cast<uint64_t>(state.range(0));
  Keyspace space = filled(keys, false);
  std::mt19937_64 random(1);
  std::string key;
  for (auto _ : state) {
    key = key_of(key_number(random() % keys, false));
    benchmark::DoNotOptimize(space.find(key, 0));
  }
}

// A run of 128 keys picked at random from range(0) present ones, overwritten (range(2) = 1),
// as a node applies a run of committed SETs, or looked up (0), as a leader serves a run of
// reads; with Keyspace::prefetch first when range(1) = 1. Before each run it streams 64 MiB,
// twice the L3 cache, through the cache: a node's network, log and disk buffers pass between
// two applies, and the run starts with the trie out of the cache (the case perf shows on a
// loaded follower, where insert's cache misses are a fifth of its CPU).
void BM_ColdRun(benchmark::State& state) {
  const auto keys = static_cast<uint64_t>(state.range(0));
  const bool prefetch = state.range(1) == 1;
  const bool write = state.range(2) == 1;
  constexpr size_t kRun = 128;
  Keyspace space = filled(keys, false);
  std::mt19937_64 random(1);
  std::vector<std::string> run(kRun);
  std::vector<std::string_view> views(kRun);
  std::vector<char> other(size_t{64} << 20, 1);
  const std::string value(256, 'v');
  uint64_t index = keys;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < kRun; ++i) {
      run[i] = key_of(key_number(random() % keys, false));
      views[i] = run[i];
    }
    for (size_t at = 0; at < other.size(); at += 64) ++other[at];
    benchmark::ClobberMemory();
    state.ResumeTiming();
    if (prefetch) space.prefetch(views);
    for (const std::string& key : run) {
      if (write) {
        space.put(key, Value::of_string(value), Index(++index));
      } else {
        benchmark::DoNotOptimize(space.find(key, 0));
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kRun));
}

// A fixed count of iterations: each case then fills its key space once, not once per trial
// run (a 3M-key fill takes seconds).
BENCHMARK(BM_PutFreshKey)
    ->ArgsProduct({{100'000, 1'000'000, 3'000'000}, {0, 1}})
    ->ArgNames({"keys", "ascending"})
    ->Iterations(200'000)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_ColdRun)
    ->ArgsProduct({{10'000, 1'000'000}, {0, 1}, {0, 1}})
    ->ArgNames({"keys", "prefetch", "write"})
    ->Iterations(1'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FindPresentKey)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Arg(3'000'000)
    ->ArgName("keys")
    ->Iterations(200'000)
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace raftkv::kv

BENCHMARK_MAIN();
