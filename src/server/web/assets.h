#pragma once

#include <string_view>

// The web view's files (src/server/web and docs/consensus.md), compiled into the server by
// embed.cmake, so a node serves its page with no files beside it and nothing from a CDN.
namespace raftkv::server::web {

struct Asset {
  std::string_view path;          // As requested: "/index.html", "/app.js", ...
  std::string_view content_type;  // Null-terminated.
  std::string_view body;
};

// The asset served at `path`, or nullptr.
[[nodiscard]] const Asset* find_asset(std::string_view path);

}  // namespace raftkv::server::web
