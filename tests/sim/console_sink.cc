#include "sim/console_sink.h"

#include <string>

#include "sim/checkers.h"

namespace raftkv::sim {

namespace {

// Distinct, readable ANSI colours, one per node id (cycling past eight nodes).
const char* node_colour(NodeId node) {
  static const char* const colours[] = {"\033[36m", "\033[35m", "\033[33m", "\033[32m",
                                        "\033[34m", "\033[91m", "\033[96m", "\033[95m"};
  if (node == kNoNode) return "\033[1m";
  return colours[(node.value() - 1) % 8];
}

}  // namespace

void ConsoleSink::write(uint64_t now_us, NodeId node, LogLevel level, std::string_view line) {
  if (!enabled(level)) return;
  const std::string time = format_time(now_us);
  const std::string who = node == kNoNode ? "sim   " : "node " + std::to_string(node.value());
  if (colour_) {
    std::fprintf(out_, "%s%-8s %s | %.*s\033[0m\n", node_colour(node), time.c_str(),
                 who.c_str(), static_cast<int>(line.size()), line.data());
  } else {
    std::fprintf(out_, "%-8s %s | %.*s\n", time.c_str(), who.c_str(),
                 static_cast<int>(line.size()), line.data());
  }
  std::fflush(out_);
}

void ConsoleSink::headline(std::string_view line) {
  if (colour_) {
    std::fprintf(out_, "\n\033[1m== %.*s\033[0m\n", static_cast<int>(line.size()), line.data());
  } else {
    std::fprintf(out_, "\n== %.*s\n", static_cast<int>(line.size()), line.data());
  }
  std::fflush(out_);
}

}  // namespace raftkv::sim
