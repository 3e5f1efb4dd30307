#pragma once

#include <string>

#include "common/logger.h"

// The server's Logger: one line per event on stderr, "HH:MM:SS.mmm LEVEL message", through
// spdlog (thread-safe: the loop, storage and HTTP threads all log).
namespace raftkv::server {

class SpdLogger final : public Logger {
 public:
  explicit SpdLogger(LogLevel level);
  [[nodiscard]] bool enabled(LogLevel level) const override { return level >= level_; }
  void write(LogLevel level, std::string_view line) override;

 private:
  LogLevel level_;
};

[[nodiscard]] LogLevel parse_log_level(const std::string& name);

}  // namespace raftkv::server
