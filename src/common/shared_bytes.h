#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

// An immutable byte string shared by reference: copying one copies a pointer, never the bytes.
// Why: an entry's payload travels from the client's request through the core's log, its
// Ready, one message per follower, the WAL and the state machine; as a std::string it was
// copied at each step, about twenty times per entry on a leader, which for a 16 MiB value cost
// more CPU than everything else and delayed heartbeats into elections (issue 21). Shared, the
// bytes are written once and read where they are, as Go's slices do for etcd.
//
// A SharedBytes may also view a slice of a larger buffer it keeps alive (a received frame
// holding several payloads: they are not copied out of it).
//
// Thread-safe as std::shared_ptr is: copies may be used and dropped on any thread.
namespace raftkv {

class SharedBytes {
 public:
  SharedBytes() = default;
  // Takes the string's bytes without copying them. Implicit: wherever a payload is built as
  // a std::string, it can be handed on as it is.
  SharedBytes(std::string bytes)  // NOLINT(google-explicit-constructor)
      : owner_(std::make_shared<const std::string>(std::move(bytes))), view_(*owner_) {}
  SharedBytes(const char* text) : SharedBytes(std::string(text)) {}  // NOLINT
  // `view` must lie within `*owner`.
  SharedBytes(std::shared_ptr<const std::string> owner, std::string_view view)
      : owner_(std::move(owner)), view_(view) {}

  [[nodiscard]] std::string_view view() const { return view_; }
  operator std::string_view() const { return view_; }  // NOLINT(google-explicit-constructor)
  [[nodiscard]] const char* data() const { return view_.data(); }
  [[nodiscard]] size_t size() const { return view_.size(); }
  [[nodiscard]] bool empty() const { return view_.empty(); }
  // A copy of the bytes, for the few places that need a string of their own.
  [[nodiscard]] std::string str() const { return std::string(view_); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.view_ == b.view_;
  }
  friend bool operator==(const SharedBytes& a, std::string_view b) { return a.view_ == b; }
  friend bool operator==(const SharedBytes& a, const char* b) { return a.view_ == b; }
  friend std::ostream& operator<<(std::ostream& out, const SharedBytes& bytes) {
    return out << bytes.view_;
  }

 private:
  std::shared_ptr<const std::string> owner_;
  std::string_view view_;
};

}  // namespace raftkv
