#pragma once

#include <string>

#include "common/status.h"
#include "server/config.h"

// A data directory belongs to one node of one cluster. The first start writes
// <data-dir>/identity.json (cluster name and id, node id, member list); every later start
// checks the command line against it and refuses, naming both, when they differ — so a node
// cannot be started on another node's or another cluster's data by mistake.
namespace raftkv::server {

// Creates the directory and the identity file if missing (written to a temp file, fsynced,
// renamed). InvalidArgument, with both sides spelled out, on a mismatch.
[[nodiscard]] Status check_or_write_identity(const ServerConfig& config);

}  // namespace raftkv::server
