#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// How the fuzz targets cut their input into commands and arguments: `bytes` split at
// `separator`, at most `max` pieces (the rest of the input is dropped), empty pieces kept.
inline std::vector<std::string> split(std::string_view bytes, char separator, size_t max) {
  std::vector<std::string> words;
  for (size_t at = 0; at <= bytes.size() && words.size() < max;) {
    const size_t end = std::min(bytes.find(separator, at), bytes.size());
    words.emplace_back(bytes.substr(at, end - at));
    at = end + 1;
  }
  return words;
}
