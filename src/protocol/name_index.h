#pragma once

#include <span>
#include <string_view>
#include <unordered_map>

namespace raftkv::protocol {

// A hash index from name to entry over a fixed table whose entries have a `name`. Every
// request looks its command up several times (translation, ACL, validation, dispatch), and a
// bisection of the command table costs about seven string compares each time.
template <typename Entry>
class NameIndex {
 public:
  explicit NameIndex(std::span<const Entry> table) {
    for (const Entry& entry : table) by_name_.emplace(entry.name, &entry);
  }

  // The entry named exactly `name`, or nullptr.
  [[nodiscard]] const Entry* find(std::string_view name) const {
    const auto it = by_name_.find(name);
    return it != by_name_.end() ? it->second : nullptr;
  }

 private:
  std::unordered_map<std::string_view, const Entry*> by_name_;
};

}  // namespace raftkv::protocol
