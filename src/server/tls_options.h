#pragma once

#include <cstdint>

#include "net/tls_settings.h"

// The node's TLS settings (--tls-*, --peer-tls-*), apart from what builds contexts from them
// (certificates.h), so that the configuration does not pull in OpenSSL.
namespace raftkv::server {

struct TlsOptions {
  net::TlsFiles files;  // --tls-cert-file, --tls-key-file, --tls-ca-cert-file: the client port.
  // --peer-tls-cert-file, --peer-tls-key-file, --peer-tls-ca-cert-file: mutual TLS on the peer
  // links when set. The certificate must name raftkv-node-<id> and serve as server and client.
  net::TlsFiles peer_files;
  uint16_t client_port = 0;  // --tls-port: a client listener speaking TLS (0: none).
  net::ClientCertificates client_certificates = net::ClientCertificates::Yes;

  [[nodiscard]] bool enabled() const { return files.enabled() || peer_files.enabled(); }
};

}  // namespace raftkv::server
