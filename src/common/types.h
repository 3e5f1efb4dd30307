#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

// Strong ids and positions: an Index cannot be passed where a Term is expected. They are
// plain value types with the arithmetic Raft needs (next/previous position, distance).

namespace raftkv {

template <typename Tag>
class StrongU64 {
 public:
  constexpr StrongU64() = default;
  constexpr explicit StrongU64(uint64_t value) : value_(value) {}

  [[nodiscard]] constexpr uint64_t value() const { return value_; }

  constexpr auto operator<=>(const StrongU64&) const = default;

  constexpr StrongU64 operator+(uint64_t delta) const { return StrongU64(value_ + delta); }
  constexpr StrongU64 operator-(uint64_t delta) const { return StrongU64(value_ - delta); }
  // Distance between two positions; the caller guarantees *this >= other.
  constexpr uint64_t operator-(StrongU64 other) const { return value_ - other.value_; }
  constexpr StrongU64& operator++() {
    ++value_;
    return *this;
  }

 private:
  uint64_t value_ = 0;
};

struct TermTag {};
struct IndexTag {};
struct NodeIdTag {};

// A Raft term (Raft §5.1). Term 0 is "before any election".
using Term = StrongU64<TermTag>;
// A log position. Index 0 is "before the first entry"; real entries start at 1.
using Index = StrongU64<IndexTag>;
// A node's id within its cluster. NodeId 0 means "none" (no vote, no known leader).
using NodeId = StrongU64<NodeIdTag>;

inline constexpr NodeId kNoNode{0};

template <typename Tag>
std::ostream& operator<<(std::ostream& out, StrongU64<Tag> value) {
  return out << value.value();
}

}  // namespace raftkv

template <typename Tag>
struct std::hash<raftkv::StrongU64<Tag>> {
  size_t operator()(raftkv::StrongU64<Tag> value) const noexcept {
    return std::hash<uint64_t>{}(value.value());
  }
};
