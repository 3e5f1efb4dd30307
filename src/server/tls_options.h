#pragma once

#include <cstdint>

#include "net/tls_settings.h"

// The node's TLS settings (--tls-*), apart from what builds contexts from them
// (certificates.h), so that the configuration does not pull in OpenSSL.
namespace raftkv::server {

struct TlsOptions {
  net::TlsFiles files;
  uint16_t client_port = 0;  // --tls-port: a client listener speaking TLS (0: none).
  net::ClientCertificates client_certificates = net::ClientCertificates::Yes;

  [[nodiscard]] bool enabled() const { return files.enabled(); }
};

}  // namespace raftkv::server
