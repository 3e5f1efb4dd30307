#include "server/allocator.h"

#include <dlfcn.h>

#include <cstddef>

namespace raftkv::server {

namespace {

std::string look_up_allocator() {
  // Looked up rather than called directly, so that the library links without jemalloc: only
  // the raftkv-server executable carries it, and the sanitizer builds must not.
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "libc";
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  return std::string("jemalloc-") + version;
}

}  // namespace

const std::string& allocator_name() {
  static const std::string name = look_up_allocator();  // Fixed for the life of the process.
  return name;
}

}  // namespace raftkv::server
