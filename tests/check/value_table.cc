#include "check/value_table.h"

#include <algorithm>

#include "common/assert.h"

namespace raftkv::lincheck::detail {
namespace {

constexpr uint64_t kModulus = (uint64_t{1} << 61) - 1;  // A Mersenne prime.
constexpr uint64_t kBaseA = 0x1f3d5b79a2c4e6f1ULL % kModulus;
constexpr uint64_t kBaseB = 0x7a3e9c1d5b2f4861ULL % kModulus;

uint64_t mul_mod(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  const uint64_t folded = static_cast<uint64_t>(product & kModulus) +
                          static_cast<uint64_t>(product >> 61);
  return folded >= kModulus ? folded - kModulus : folded;
}

uint64_t add_mod(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;
  return sum >= kModulus ? sum - kModulus : sum;
}

uint64_t pow_mod(uint64_t base, uint64_t exponent) {
  uint64_t result = 1;
  for (; exponent != 0; exponent >>= 1, base = mul_mod(base, base)) {
    if ((exponent & 1) != 0) result = mul_mod(result, base);
  }
  return result;
}

// Horner's rule; bytes count from 1 so that leading zero bytes still change the hash.
uint64_t hash_text(std::string_view text, uint64_t base) {
  uint64_t hash = 0;
  for (const char c : text) hash = add_mod(mul_mod(hash, base), static_cast<uint8_t>(c) + 1u);
  return hash;
}

}  // namespace

ValueTable::ValueTable() {
  nodes_.push_back({{0, 0, 0}, kMissing, 0});  // kMissing: never looked up by digest.
}

ValueId ValueTable::add(const Node& node) {
  if (const auto found = ids_.find(node.digest); found != ids_.end()) return found->second;
  const auto id = static_cast<ValueId>(nodes_.size());
  RAFT_ASSERT(id != kMissing);  // Wrapped around: more than 2^32 values.
  nodes_.push_back(node);
  ids_.emplace(node.digest, id);
  return id;
}

ValueId ValueTable::intern(std::string_view text) {
  const Digest digest{text.size(), hash_text(text, kBaseA), hash_text(text, kBaseB)};
  if (const auto found = ids_.find(digest); found != ids_.end()) return found->second;
  flats_.emplace_back(text);
  flat_bytes_ += text.size();
  return add({digest, kMissing, static_cast<uint32_t>(flats_.size() - 1)});
}

ValueId ValueTable::concat(ValueId prefix, ValueId suffix) {
  RAFT_ASSERT(suffix != kMissing && suffix < nodes_.size());
  RAFT_ASSERT(prefix < nodes_.size());
  if (prefix == kMissing) return suffix;
  const Digest& head = nodes_[prefix].digest;
  const Digest& tail = nodes_[suffix].digest;
  const Digest digest{head.length + tail.length,
                      add_mod(mul_mod(head.hash_a, pow_mod(kBaseA, tail.length)), tail.hash_a),
                      add_mod(mul_mod(head.hash_b, pow_mod(kBaseB, tail.length)), tail.hash_b)};
  return add({digest, prefix, suffix});
}

uint64_t ValueTable::length(ValueId id) const {
  RAFT_ASSERT(id < nodes_.size());
  return nodes_[id].digest.length;
}

std::string ValueTable::text(ValueId id) const {
  RAFT_ASSERT(id != kMissing && id < nodes_.size());
  // Appends nest to the left as deep as a key's history: walk them in a loop.
  std::vector<ValueId> pieces;
  for (ValueId at = id;;) {
    const Node& node = nodes_[at];
    if (node.prefix == kMissing) {
      pieces.push_back(at);
      break;
    }
    pieces.push_back(node.piece);
    at = node.prefix;
  }
  std::string out;
  out.reserve(nodes_[id].digest.length);
  for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
    RAFT_ASSERT(nodes_[*it].prefix == kMissing);  // Suffixes are interned flat text.
    out += flats_[nodes_[*it].piece];
  }
  RAFT_ASSERT(out.size() == nodes_[id].digest.length);
  return out;
}

std::optional<std::string_view> ValueTable::flat_text(ValueId id) const {
  RAFT_ASSERT(id != kMissing && id < nodes_.size());
  if (nodes_[id].prefix != kMissing) return std::nullopt;
  return flats_[nodes_[id].piece];
}

size_t ValueTable::bytes() const {
  return nodes_.capacity() * sizeof(Node) + flats_.capacity() * sizeof(std::string) +
         flat_bytes_ + ids_.size() * (sizeof(Digest) + sizeof(ValueId) + 16);
}

}  // namespace raftkv::lincheck::detail
