#pragma once

#include <sstream>
#include <string>
#include <string_view>

// The logging seam. Pure layers (src/raft, src/kv) log through an injected Logger so that the
// simulator can capture lines deterministically and the server can route them to spdlog.

namespace raftkv {

enum class LogLevel { Debug, Info, Warn, Error };

const char* log_level_name(LogLevel level);

class Logger {
 public:
  virtual ~Logger() = default;
  // Whether lines at `level` are wanted; callers skip formatting when not.
  [[nodiscard]] virtual bool enabled(LogLevel level) const = 0;
  virtual void write(LogLevel level, std::string_view line) = 0;
};

// Discards everything; for benchmarks and tests that do not look at logs.
class NullLogger final : public Logger {
 public:
  [[nodiscard]] bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view) override {}
};

// Formats the arguments with operator<< and writes one line, only if the level is enabled.
template <typename... Args>
void log_to(Logger& logger, LogLevel level, const Args&... args) {
  if (!logger.enabled(level)) return;
  std::ostringstream line;
  (line << ... << args);
  logger.write(level, line.str());
}

}  // namespace raftkv
