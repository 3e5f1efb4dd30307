#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

// A latency histogram in the manner of HdrHistogram: log-linear buckets, so every recorded
// value is kept to a fixed number of significant decimal digits whatever its magnitude, in a
// fixed-size array of counters (no allocation while recording, O(1) per value).
//
// Layout (as in HdrHistogram): values are counted in units of 2^unit_magnitude (the largest
// power of two not above `lowest`). Bucket 0 covers [0, sub_bucket_count) units linearly; each
// further bucket b covers twice the range of the one before with the same number of linear
// sub-buckets, so a value v lands in a sub-bucket of width at most v / sub_bucket_half_count.
// With 2 significant digits sub_bucket_count = 256: the width is below 1% of the value.
//
// Not thread-safe: one per thread, merged at the end with merge().

namespace raftkv::bench {

class LatencyHistogram {
 public:
  // Values in [0, highest] are recorded to `significant_digits` (1..3); larger values are
  // clamped to `highest` (max() still reports the exact largest value). `lowest` >= 1 is the
  // smallest value to tell apart from 0 and sets the unit; highest >= 2 * lowest.
  LatencyHistogram(uint64_t lowest, uint64_t highest, int significant_digits);

  // The histogram raftkv-bench uses: nanoseconds from 1 us to 60 s, 2 significant digits.
  static LatencyHistogram for_latency_ns();

  void record(uint64_t value);
  // Adds every count of `other`, which must have the same parameters.
  void merge(const LatencyHistogram& other);
  void reset();

  [[nodiscard]] uint64_t count() const { return total_count_; }
  // Exact extremes of the values recorded (0 when empty).
  [[nodiscard]] uint64_t min() const { return total_count_ == 0 ? 0 : min_; }
  [[nodiscard]] uint64_t max() const { return max_; }

  // The value at `percentile` (0..100]: the highest value equivalent (same sub-bucket) to the
  // recorded value of rank ceil(percentile/100 * count), capped at max(). So the answer is at
  // least the exact percentile and above it by less than one sub-bucket width. 0 when empty.
  [[nodiscard]] uint64_t value_at_percentile(double percentile) const;

  // The largest value counted in the same sub-bucket as `value` (value's precision bound).
  [[nodiscard]] uint64_t highest_equivalent(uint64_t value) const;
  [[nodiscard]] uint64_t lowest_equivalent(uint64_t value) const;

  [[nodiscard]] bool same_shape(const LatencyHistogram& other) const;

 private:
  [[nodiscard]] size_t bucket_index(uint64_t value) const;
  [[nodiscard]] size_t counts_index_for(uint64_t value) const;
  [[nodiscard]] uint64_t value_from_index(size_t index) const;

  uint64_t lowest_;
  uint64_t highest_;
  int significant_digits_;
  int unit_magnitude_ = 0;                  // log2 of the unit.
  int sub_bucket_half_count_magnitude_ = 0;  // log2(sub_bucket_count_) - 1.
  uint64_t sub_bucket_count_ = 0;           // Linear sub-buckets per bucket (power of two).
  uint64_t sub_bucket_half_count_ = 0;
  uint64_t sub_bucket_mask_ = 0;             // (sub_bucket_count_ - 1) << unit_magnitude_.
  size_t bucket_count_ = 0;
  std::vector<uint64_t> counts_;  // Fixed size after construction.
  uint64_t total_count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace raftkv::bench
