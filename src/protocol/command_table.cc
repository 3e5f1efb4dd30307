#include "protocol/command_table.h"

#include <algorithm>
#include <array>

namespace raftkv::protocol {
namespace {

constexpr uint32_t kR = kRead;
constexpr uint32_t kW = kWrite;
constexpr uint32_t kC = kConnection;
constexpr uint32_t kT = kTransaction | kConnection;

// In name order (find_command searches it by bisection; a test checks the order).
constexpr std::array kCommands = {
    CommandSpec{"append", 3, kW, 1, 1, 1},
    CommandSpec{"cas", 4, kW, 1, 1, 1},  // CAS key expected new: raftkv's own.
    CommandSpec{"casnx", 3, kW, 1, 1, 1},  // CASNX key new: raftkv's own.
    CommandSpec{"client", -2, kC, 0, 0, 0},
    CommandSpec{"command", -1, kC, 0, 0, 0},
    CommandSpec{"config", -2, kC | kAdmin, 0, 0, 0},
    CommandSpec{"dbsize", 1, kR, 0, 0, 0},
    CommandSpec{"decr", 2, kW, 1, 1, 1},
    CommandSpec{"decrby", 3, kW, 1, 1, 1},
    CommandSpec{"del", -2, kW, 1, -1, 1},
    CommandSpec{"discard", 1, kT, 0, 0, 0},
    CommandSpec{"echo", 2, kC, 0, 0, 0},
    CommandSpec{"exec", 1, kT, 0, 0, 0},
    CommandSpec{"exists", -2, kR, 1, -1, 1},
    CommandSpec{"get", 2, kR, 1, 1, 1},
    CommandSpec{"incr", 2, kW, 1, 1, 1},
    CommandSpec{"incrby", 3, kW, 1, 1, 1},
    CommandSpec{"info", -1, kC, 0, 0, 0},
    CommandSpec{"mget", -2, kR, 1, -1, 1},
    CommandSpec{"mset", -3, kW, 1, -1, 2},
    CommandSpec{"multi", 1, kT, 0, 0, 0},
    CommandSpec{"ping", -1, kC, 0, 0, 0},
    CommandSpec{"quit", -1, kC, 0, 0, 0},
    CommandSpec{"readonly", 1, kC, 0, 0, 0},
    CommandSpec{"readwrite", 1, kC, 0, 0, 0},
    CommandSpec{"select", 2, kC, 0, 0, 0},
    CommandSpec{"session.call", -4, kW, 0, 0, 0},  // The wrapped command's keys, at 4 on.
    CommandSpec{"session.exec", 3, kT, 0, 0, 0},
    CommandSpec{"session.open", 1, kW, 0, 0, 0},
    CommandSpec{"set", -3, kW, 1, 1, 1},
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Compares a table name (lower case) with `name` in any case.
int compare(std::string_view table_name, std::string_view name) {
  const size_t common = std::min(table_name.size(), name.size());
  for (size_t i = 0; i < common; ++i) {
    const char a = table_name[i];
    const char b = lower(name[i]);
    if (a != b) return a < b ? -1 : 1;
  }
  if (table_name.size() == name.size()) return 0;
  return table_name.size() < name.size() ? -1 : 1;
}

}  // namespace

const CommandSpec* find_command(std::string_view name) {
  auto it = std::lower_bound(kCommands.begin(), kCommands.end(), name,
                             [](const CommandSpec& spec, std::string_view wanted) {
                               return compare(spec.name, wanted) < 0;
                             });
  if (it == kCommands.end() || compare(it->name, name) != 0) return nullptr;
  return &*it;
}

std::span<const CommandSpec> all_commands() { return kCommands; }

}  // namespace raftkv::protocol
