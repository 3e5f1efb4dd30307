#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "common/assert.h"

namespace raftkv::bench {

LatencyHistogram::LatencyHistogram(uint64_t lowest, uint64_t highest, int significant_digits)
    : lowest_(lowest), highest_(highest), significant_digits_(significant_digits) {
  RAFT_ASSERT(lowest >= 1);
  RAFT_ASSERT(highest >= 2 * lowest);
  RAFT_ASSERT(significant_digits >= 1 && significant_digits <= 3);
  unit_magnitude_ = static_cast<int>(std::bit_width(lowest)) - 1;  // floor(log2(lowest)).
  // Enough linear sub-buckets that one unit is below 10^-digits of a bucket's lowest value.
  uint64_t single_unit_resolution_max = 2;
  for (int i = 0; i < significant_digits; ++i) single_unit_resolution_max *= 10;
  const auto sub_bucket_count_magnitude =
      static_cast<int>(std::bit_width(single_unit_resolution_max - 1));
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  sub_bucket_count_ = uint64_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (sub_bucket_count_ - 1) << unit_magnitude_;
  RAFT_ASSERT(unit_magnitude_ + sub_bucket_half_count_magnitude_ + 1 < 62);
  // Buckets until the first value not trackable exceeds `highest`.
  uint64_t smallest_untrackable = sub_bucket_count_ << unit_magnitude_;
  bucket_count_ = 1;
  while (smallest_untrackable <= highest) {
    if (smallest_untrackable > (UINT64_MAX >> 2)) {
      ++bucket_count_;
      break;
    }
    smallest_untrackable <<= 1;
    ++bucket_count_;
  }
  counts_.assign((bucket_count_ + 1) * sub_bucket_half_count_, 0);
  RAFT_ASSERT(counts_index_for(highest) < counts_.size());
}

LatencyHistogram LatencyHistogram::for_latency_ns() {
  return LatencyHistogram(1'000, 60'000'000'000, 2);
}

size_t LatencyHistogram::bucket_index(uint64_t value) const {
  // The power of two just above value (at least the first bucket's range).
  const auto pow2_ceiling = static_cast<int>(std::bit_width(value | sub_bucket_mask_));
  const int index = pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
  RAFT_ASSERT(index >= 0);
  return static_cast<size_t>(index);
}

size_t LatencyHistogram::counts_index_for(uint64_t value) const {
  const size_t bucket = bucket_index(value);
  const uint64_t sub_bucket = value >> (bucket + static_cast<size_t>(unit_magnitude_));
  RAFT_ASSERT(sub_bucket < sub_bucket_count_);
  if (bucket > 0) RAFT_ASSERT(sub_bucket >= sub_bucket_half_count_);
  const size_t base = (bucket + 1) << sub_bucket_half_count_magnitude_;
  return base + static_cast<size_t>(sub_bucket) - static_cast<size_t>(sub_bucket_half_count_);
}

uint64_t LatencyHistogram::value_from_index(size_t index) const {
  size_t bucket = index >> sub_bucket_half_count_magnitude_;
  uint64_t sub_bucket = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket == 0) {
    sub_bucket -= sub_bucket_half_count_;  // The first half of bucket 0 sits below index 128.
  } else {
    --bucket;
  }
  return sub_bucket << (bucket + static_cast<size_t>(unit_magnitude_));
}

uint64_t LatencyHistogram::lowest_equivalent(uint64_t value) const {
  return value_from_index(counts_index_for(std::min(value, highest_)));
}

uint64_t LatencyHistogram::highest_equivalent(uint64_t value) const {
  const uint64_t clamped = std::min(value, highest_);
  const size_t bucket = bucket_index(clamped);
  const uint64_t width = uint64_t{1} << (bucket + static_cast<size_t>(unit_magnitude_));
  return lowest_equivalent(clamped) + width - 1;
}

void LatencyHistogram::record(uint64_t value) {
  const size_t index = counts_index_for(std::min(value, highest_));
  RAFT_ASSERT(index < counts_.size());
  ++counts_[index];
  ++total_count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

bool LatencyHistogram::same_shape(const LatencyHistogram& other) const {
  return lowest_ == other.lowest_ && highest_ == other.highest_ &&
         significant_digits_ == other.significant_digits_;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  RAFT_ASSERT(same_shape(other));
  RAFT_ASSERT(counts_.size() == other.counts_.size());
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t LatencyHistogram::value_at_percentile(double percentile) const {
  RAFT_ASSERT(percentile > 0.0 && percentile <= 100.0);
  if (total_count_ == 0) return 0;
  const double wanted = std::ceil(percentile / 100.0 * static_cast<double>(total_count_));
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(wanted), 1, total_count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_equivalent(value_from_index(i)), max_);
  }
  RAFT_ASSERT(false);  // seen reaches total_count_ >= rank.
  return max_;
}

}  // namespace raftkv::bench
