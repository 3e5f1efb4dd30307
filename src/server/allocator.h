#pragma once

#include <string>

namespace raftkv::server {

// The malloc this process runs on, as INFO's mem_allocator reports it (Redis does the same):
// "jemalloc-<version>" where jemalloc serves malloc (the release server links it), else "libc".
// Asked of the running process, not of the build: a server whose link lost jemalloc says so.
[[nodiscard]] const std::string& allocator_name();

}  // namespace raftkv::server
