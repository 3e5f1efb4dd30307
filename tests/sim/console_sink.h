#pragma once

#include <cstdio>
#include <string_view>

#include "sim/run.h"

// Prints simulator and core log lines as "t=<tick> node <id> | <line>", one colour per node
// when the output is a terminal. Used by `raftkv-sim --demo` and `--verbose` replays.
namespace raftkv::sim {

class ConsoleSink final : public SimLogSink {
 public:
  // `colour`: use ANSI colours (decide with isatty()); `level_min`: the quietest level shown.
  ConsoleSink(std::FILE* out, bool colour, LogLevel level_min)
      : out_(out), colour_(colour), level_min_(level_min) {}

  [[nodiscard]] bool enabled(LogLevel level) const override { return level >= level_min_; }
  void write(uint64_t now_us, NodeId node, LogLevel level, std::string_view line) override;
  // A line of narration set apart from the log (bold when coloured).
  void headline(std::string_view line);

 private:
  std::FILE* out_;
  bool colour_;
  LogLevel level_min_;
};

}  // namespace raftkv::sim
