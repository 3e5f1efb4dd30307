#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// The values one partition's search meets, each stored once and named by a small id, so a
// model state is a vector of ids: comparing, hashing or caching a state never touches text.
namespace raftkv::lincheck::detail {

using ValueId = uint32_t;
constexpr ValueId kMissing = 0;  // The key does not exist (a get returns nil).

// A value is either flat text or an append: (prefix value, suffix value), so the thousands of
// values a search builds by appends in different orders cost a node each, not a copy each.
// Two values are the same id exactly when they have the same length and the same two 61-bit
// polynomial hashes of their text (independent bases mod 2^61 - 1, kept up to date through
// appends): different texts collide with probability about n^2 / 2^122 for n values, far
// below any hardware error rate, and no text is compared or rebuilt on the hot path.
// Not thread-safe.
class ValueTable {
 public:
  ValueTable();
  ValueTable(const ValueTable&) = delete;
  ValueTable& operator=(const ValueTable&) = delete;

  [[nodiscard]] ValueId intern(std::string_view text);
  // The value `prefix` + `suffix`; kMissing as prefix stands for "".
  [[nodiscard]] ValueId concat(ValueId prefix, ValueId suffix);
  [[nodiscard]] uint64_t length(ValueId id) const;
  // The text, rebuilt: for reports and for parsing counters (short), never per search step.
  [[nodiscard]] std::string text(ValueId id) const;
  // The text of a value interned as flat text (every value of the history is, being interned
  // before the search builds any), without copying; nullopt for a value built by appends.
  [[nodiscard]] std::optional<std::string_view> flat_text(ValueId id) const;
  // Roughly the heap bytes held, for the memory budget.
  [[nodiscard]] size_t bytes() const;

 private:
  struct Digest {
    uint64_t length;
    uint64_t hash_a;
    uint64_t hash_b;
    bool operator==(const Digest&) const = default;
  };
  struct DigestHash {
    size_t operator()(const Digest& digest) const { return digest.hash_a ^ digest.length; }
  };
  struct Node {
    Digest digest;
    ValueId prefix;      // kMissing for flat text.
    uint32_t piece;      // Flat: index into flats_; an append: the suffix's id.
  };

  ValueId add(const Node& node);

  std::vector<Node> nodes_;  // nodes_[id]; nodes_[0] stands for kMissing.
  std::vector<std::string> flats_;
  std::unordered_map<Digest, ValueId, DigestHash> ids_;
  size_t flat_bytes_ = 0;
};

}  // namespace raftkv::lincheck::detail
