#pragma once

#include <cstdint>
#include <deque>

#include "common/assert.h"
#include "common/types.h"

// The Append messages sent to one follower and not yet acknowledged, bounded both in count and
// in bytes. A leader in Replicate state pipelines appends until either bound is reached; each
// acknowledgement frees every message up to the acknowledged index. Not thread-safe.
namespace raftkv::raft {

class Inflights {
 public:
  Inflights(uint32_t count_max, uint64_t bytes_max) : count_max_(count_max), bytes_max_(bytes_max) {
    RAFT_ASSERT(count_max > 0);
    RAFT_ASSERT(bytes_max > 0);
  }

  // Records a message whose last entry is `last_index`. Indexes must increase.
  void add(Index last_index, uint64_t bytes) {
    RAFT_ASSERT(!full());
    if (!sent_.empty()) RAFT_ASSERT(sent_.back().last_index < last_index);
    sent_.push_back({last_index, bytes});
    bytes_ += bytes;
  }

  // Frees every message whose last entry is <= `index` (the follower acknowledged them).
  void free_up_to(Index index) {
    while (!sent_.empty() && sent_.front().last_index <= index) {
      bytes_ -= sent_.front().bytes;
      sent_.pop_front();
    }
  }

  void reset() {
    sent_.clear();
    bytes_ = 0;
  }

  // Full when either bound is reached; a single message larger than bytes_max still fits
  // into an empty window so that an oversized entry cannot stall replication forever.
  [[nodiscard]] bool full() const {
    return sent_.size() >= count_max_ || (!sent_.empty() && bytes_ >= bytes_max_);
  }
  [[nodiscard]] uint32_t count() const { return static_cast<uint32_t>(sent_.size()); }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  struct Sent {
    Index last_index;
    uint64_t bytes;
  };
  uint32_t count_max_;
  uint64_t bytes_max_;
  std::deque<Sent> sent_;
  uint64_t bytes_ = 0;
};

}  // namespace raftkv::raft
