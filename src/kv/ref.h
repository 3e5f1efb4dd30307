#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

#include "common/assert.h"

// Intrusive reference counting for the persistent maps' nodes and items. The count lives in
// the object, so an object and its count are one allocation of the object's own size, where
// std::shared_ptr adds a 16-byte control block to each object and a second word to each
// pointer: at a million keys, two tree pointers and an item per key, that was about 50 bytes
// per key. Counts are atomic: a snapshot thread may drop the last reference to a node.
namespace raftkv::kv {

// Base of every type held by Ref<T>. Not copyable: a copy would need a count of its own.
class RefCounted {
 public:
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;

 protected:
  RefCounted() = default;
  ~RefCounted() = default;

 private:
  template <typename T>
  friend class Ref;
  mutable std::atomic<uint32_t> refs_{0};
};

// A counted reference to a T allocated with new (or a class-specific operator new); the last
// Ref destroys it with delete. Thread-safety as std::shared_ptr: one Ref object per thread,
// the counted object shared.
template <typename T>
class Ref {
 public:
  Ref() = default;
  Ref(std::nullptr_t) {}  // NOLINT(google-explicit-constructor): as for std::shared_ptr.
  // Takes a freshly made object (count 0) or adds a reference to a counted one.
  explicit Ref(T* object) : object_(object) { retain(); }
  Ref(const Ref& other) : object_(other.object_) { retain(); }
  Ref(Ref&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  Ref& operator=(Ref other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  ~Ref() { release(); }

  [[nodiscard]] T* get() const { return object_; }
  T& operator*() const { return *object_; }
  T* operator->() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }
  friend bool operator==(const Ref& ref, std::nullptr_t) { return ref.object_ == nullptr; }

  // True when this is the only reference. The acquire load pairs with the release decrement
  // of a thread that dropped another reference, so the caller may then change the object.
  [[nodiscard]] bool unique() const {
    return object_ != nullptr && object_->refs_.load(std::memory_order_acquire) == 1;
  }

 private:
  void retain() {
    if (object_ == nullptr) return;
    const uint32_t before = object_->refs_.fetch_add(1, std::memory_order_relaxed);
    RAFT_ASSERT(before < std::numeric_limits<uint32_t>::max());
  }
  void release() {
    if (object_ == nullptr) return;
    if (object_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete object_;
  }

  T* object_ = nullptr;
};

}  // namespace raftkv::kv
