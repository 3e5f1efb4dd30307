#pragma once

#include <string>

// Where a node's TLS material is, and whether a TLS listener asks for the other side's
// certificate: plain settings, without OpenSSL or asio (net/tls_context.h builds contexts).
namespace raftkv::net {

struct TlsFiles {
  std::string cert_file;  // PEM: this node's certificate, then any intermediates.
  std::string key_file;   // PEM: its private key.
  std::string ca_file;    // PEM: the CA(s) the other side's certificate must chain to.

  [[nodiscard]] bool enabled() const { return !cert_file.empty(); }
};

// Whether the side accepting a TLS connection asks for the other's certificate: Redis'
// tls-auth-clients no | optional | yes.
enum class ClientCertificates { No, Optional, Yes };

}  // namespace raftkv::net
