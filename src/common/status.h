#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/assert.h"

// Status and Result<T> carry operating errors (I/O, malformed input, client mistakes) back to
// the caller; src/ throws no exceptions. Both are [[nodiscard]]: every error is handled.

namespace raftkv {

enum class ErrorCode {
  Ok,
  InvalidArgument,   // The caller's input is malformed or out of range.
  NotLeader,         // The request needs the leader; see the leader hint if any.
  Busy,              // A bounded queue is full; retry later.
  Corruption,        // Stored bytes fail a checksum or contradict each other.
  IoError,           // The OS refused a read or write.
  NotFound,          // The thing asked for does not exist (or was compacted away).
  Unavailable,       // No quorum, no leader, or the node is shutting down.
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {
    RAFT_ASSERT(code != ErrorCode::Ok);
  }
  static Status ok() { return {}; }

  [[nodiscard]] bool is_ok() const { return code_ == ErrorCode::Ok; }
  [[nodiscard]] ErrorCode code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  // "Corruption: bad checksum in 00000001.wal at offset 4096".
  [[nodiscard]] std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string message_;
};

// Either a value or an error Status (std::expected is C++23; Debian 12's g++ lacks it).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : value_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    RAFT_ASSERT(!std::get<Status>(value_).is_ok());
  }

  [[nodiscard]] bool is_ok() const { return std::holds_alternative<T>(value_); }
  [[nodiscard]] const Status& status() const {
    RAFT_ASSERT(!is_ok());
    return std::get<Status>(value_);
  }
  [[nodiscard]] T& value() & {
    RAFT_ASSERT(is_ok());
    return std::get<T>(value_);
  }
  [[nodiscard]] const T& value() const& {
    RAFT_ASSERT(is_ok());
    return std::get<T>(value_);
  }
  [[nodiscard]] T&& value() && {
    RAFT_ASSERT(is_ok());
    return std::get<T>(std::move(value_));
  }

 private:
  std::variant<T, Status> value_;
};

}  // namespace raftkv
