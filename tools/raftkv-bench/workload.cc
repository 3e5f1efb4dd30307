#include "workload.h"

#include "common/assert.h"

namespace raftkv::bench {
namespace {

// A uniform double in [0, 1) from the top 53 bits.
double unit_interval(Prng& prng) {
  return static_cast<double>(prng.next() >> 11) * 0x1.0p-53;
}

}  // namespace

Workload::Workload(const WorkloadSpec& spec, uint32_t client_index)
    : spec_(spec),
      client_index_(client_index),
      prng_(spec.seed * 0x9e3779b97f4a7c15ULL + client_index) {
  RAFT_ASSERT(spec.clients >= 1);
  RAFT_ASSERT(client_index < spec.clients);
  RAFT_ASSERT(spec.read_ratio >= 0 && spec.read_ratio <= 1);
}

uint64_t Workload::fresh_key(uint64_t n) const {
  return spec_.prefill + client_index_ + uint64_t{spec_.clients} * n;
}

Op Workload::next(uint64_t ticket) {
  if (spec_.prefill_phase) {
    RAFT_ASSERT(ticket < spec_.prefill);
    return {OpKind::Write, ticket};
  }
  const bool read = spec_.read_ratio >= 1 || unit_interval(prng_) < spec_.read_ratio;
  if (spec_.keyspace > 0) {
    return {read ? OpKind::Read : OpKind::Write, prng_.uniform(0, spec_.keyspace - 1)};
  }
  if (!read) return {OpKind::Write, fresh_key(fresh_written_++)};
  if (spec_.prefill > 0) return {OpKind::Read, prng_.uniform(0, spec_.prefill - 1)};
  // Nothing prefilled: read back one of this client's own writes (a miss before the first).
  if (fresh_written_ == 0) return {OpKind::Read, fresh_key(0)};
  return {OpKind::Read, fresh_key(prng_.uniform(0, fresh_written_ - 1))};
}

void format_key(uint64_t index, std::span<char> out) {
  RAFT_ASSERT(out.size() >= 2);
  out[0] = 'k';
  // Digits from the right; the leading ones stay '0' once index is exhausted.
  for (size_t i = out.size() - 1; i >= 1; --i) {
    out[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

std::string make_value(uint32_t size, uint64_t seed) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  Prng prng(seed);
  std::string value(size, 'v');
  for (char& c : value) c = kAlphabet[prng.next() % (sizeof(kAlphabet) - 1)];
  RAFT_ASSERT(value.size() == size);
  return value;
}

}  // namespace raftkv::bench
