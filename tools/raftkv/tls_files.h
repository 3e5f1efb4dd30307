#pragma once

#include <string>

#include "common/status.h"

// Throwaway TLS material for a local cluster (`raftkv cluster start --tls`), made with the
// openssl program: a CA, and for each node a certificate whose common name and DNS name are
// raftkv-node-I (the name a node's id is bound to) and whose IP name is 127.0.0.1, usable by a
// TLS server and client alike; and one client certificate (raftkv-client) for tools and
// tests. ECDSA P-256, valid 30 days. Files, in `dir`:
//   ca.crt ca.key  raftkv-node-I.crt raftkv-node-I.key  client.crt client.key
// Each file is made only when missing, so a restarted cluster keeps its certificates and a
// node added later (the demo's replacement node) gets one signed by the same CA. Not for
// production: docs/security.md says how to run your own CA.
namespace raftkv::tools {

inline constexpr const char* kOpensslPath = "/usr/bin/openssl";

// Makes the files for nodes 1..`nodes` that `dir` lacks. IoError naming the openssl
// command that failed and where its output went.
[[nodiscard]] Status make_tls_files(const std::string& dir, int nodes);

}  // namespace raftkv::tools
