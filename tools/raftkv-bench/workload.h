#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/prng.h"

// What each client sends: reads or writes, on which keys. Pure and deterministic from the
// seed; no I/O. Both targets share it, so raftkv and etcd see the same key sequence.

namespace raftkv::bench {

enum class OpKind : uint8_t { Read, Write };

struct Op {
  OpKind kind = OpKind::Write;
  uint64_t key = 0;  // Key index; format_key() turns it into bytes.
};

struct WorkloadSpec {
  double read_ratio = 0;   // [0, 1].
  uint64_t keyspace = 0;   // 0: writes use fresh keys; K: keys uniform in [0, K).
  uint64_t prefill = 0;    // Keys [0, prefill) exist (written by the prefill phase).
  bool prefill_phase = false;  // Writes of key `ticket` only (see Workload::next).
  uint32_t clients = 1;
  uint64_t seed = 1;
};

// One client's op sequence. Not thread-safe: one per client.
//   prefill phase: write key `ticket` (tickets 0..prefill-1 are handed out once each).
//   keyspace K > 0: reads and writes on keys uniform in [0, K).
//   keyspace 0: writes on fresh keys prefill + client + clients * n (distinct across clients),
//     reads uniform in [0, prefill) if prefill > 0, else among this client's written keys.
class Workload {
 public:
  Workload(const WorkloadSpec& spec, uint32_t client_index);

  [[nodiscard]] Op next(uint64_t ticket);

 private:
  [[nodiscard]] uint64_t fresh_key(uint64_t n) const;

  WorkloadSpec spec_;
  uint32_t client_index_;
  Prng prng_;
  uint64_t fresh_written_ = 0;  // Fresh keys this client has been given to write.
};

// Key `index` as exactly out.size() bytes: 'k' then zero-padded decimal digits. An index with
// more digits than fit keeps its low digits (fresh keys wrap around after 10^(size-1)).
// Precondition: out.size() >= 2.
void format_key(uint64_t index, std::span<char> out);

// `size` pseudo-random printable bytes from `seed`: the one value every write carries.
[[nodiscard]] std::string make_value(uint32_t size, uint64_t seed);

}  // namespace raftkv::bench
