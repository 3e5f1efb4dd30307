#include "histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/prng.h"

namespace raftkv::bench {
namespace {

// The exact percentile by the histogram's rank rule: the value of rank ceil(p/100 * n).
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double percentile) {
  const double wanted = std::ceil(percentile / 100.0 * static_cast<double>(sorted.size()));
  const auto rank = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1, sorted.size());
  return sorted[rank - 1];
}

// Latency-like values: log-uniform from 1 us to 10 s, so every bucket size is exercised.
std::vector<uint64_t> random_latencies_ns(uint64_t seed, size_t count) {
  Prng prng(seed);
  std::vector<uint64_t> values;
  values.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const double exponent = 3.0 + 7.0 * static_cast<double>(prng.next() >> 11) * 0x1.0p-53;
    values.push_back(static_cast<uint64_t>(std::pow(10.0, exponent)));
  }
  return values;
}

const double kPercentiles[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

TEST(LatencyHistogram, Percentiles_MatchSortedVectorWithinBucketPrecision) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<uint64_t> values = random_latencies_ns(seed, 100'000);
    LatencyHistogram histogram = LatencyHistogram::for_latency_ns();
    for (uint64_t v : values) histogram.record(v);
    std::sort(values.begin(), values.end());
    for (double p : kPercentiles) {
      const uint64_t exact = exact_percentile(values, p);
      const uint64_t got = histogram.value_at_percentile(p);
      // Never below the exact value; above it by less than one sub-bucket: 1% (2 digits), or
      // the 512 ns unit below ~130 us.
      EXPECT_GE(got, exact) << "p" << p << " seed " << seed;
      const double bound = std::max(static_cast<double>(exact) / 100.0, 512.0);
      EXPECT_LE(static_cast<double>(got - exact), bound) << "p" << p << " seed " << seed;
    }
    EXPECT_EQ(histogram.count(), values.size());
    EXPECT_EQ(histogram.min(), values.front());
    EXPECT_EQ(histogram.max(), values.back());
    EXPECT_EQ(histogram.value_at_percentile(100), values.back());
  }
}

TEST(LatencyHistogram, Merge_EqualsRecordingEverythingInOne) {
  const std::vector<uint64_t> values = random_latencies_ns(7, 20'000);
  LatencyHistogram all = LatencyHistogram::for_latency_ns();
  LatencyHistogram first = LatencyHistogram::for_latency_ns();
  LatencyHistogram second = LatencyHistogram::for_latency_ns();
  for (size_t i = 0; i < values.size(); ++i) {
    all.record(values[i]);
    (i % 3 == 0 ? first : second).record(values[i]);
  }
  first.merge(second);
  EXPECT_EQ(first.count(), all.count());
  EXPECT_EQ(first.min(), all.min());
  EXPECT_EQ(first.max(), all.max());
  for (double p : kPercentiles) {
    EXPECT_EQ(first.value_at_percentile(p), all.value_at_percentile(p)) << "p" << p;
  }
}

TEST(LatencyHistogram, Empty_ReportsZero) {
  const LatencyHistogram histogram = LatencyHistogram::for_latency_ns();
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.value_at_percentile(50), 0u);
  EXPECT_EQ(histogram.max(), 0u);
  EXPECT_EQ(histogram.min(), 0u);
}

TEST(LatencyHistogram, ValuesAboveHighest_ClampedButMaxExact) {
  LatencyHistogram histogram(1'000, 1'000'000, 2);
  histogram.record(5'000'000);
  histogram.record(100);
  EXPECT_EQ(histogram.count(), 2u);
  EXPECT_EQ(histogram.max(), 5'000'000u);
  // The clamped value sits in the top sub-bucket, at most one sub-bucket above `highest`.
  EXPECT_GE(histogram.value_at_percentile(100), 1'000'000u);
  EXPECT_LE(histogram.value_at_percentile(100), 1'000'000u + 1'000'000u / 100);
  EXPECT_LE(histogram.value_at_percentile(50), 1'000u);
}

TEST(LatencyHistogram, EquivalentRange_WithinOnePercent) {
  const LatencyHistogram histogram = LatencyHistogram::for_latency_ns();
  for (uint64_t v = 200'000; v < 60'000'000'000; v = v * 3 + 7) {
    const uint64_t lo = histogram.lowest_equivalent(v);
    const uint64_t hi = histogram.highest_equivalent(v);
    EXPECT_LE(lo, v);
    EXPECT_GE(hi, v);
    EXPECT_LE(static_cast<double>(hi - lo + 1), static_cast<double>(v) / 100.0) << v;
  }
}

TEST(LatencyHistogram, SmallestValues_LandInTheFirstBuckets) {
  LatencyHistogram histogram = LatencyHistogram::for_latency_ns();
  histogram.record(0);
  histogram.record(1);
  histogram.record(999);
  EXPECT_EQ(histogram.count(), 3u);
  EXPECT_LE(histogram.value_at_percentile(100), 999u);
  EXPECT_LE(histogram.value_at_percentile(1), 511u);  // The 512 ns unit of the first bucket.
}

}  // namespace
}  // namespace raftkv::bench
