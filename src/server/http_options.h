#pragma once

#include <string>

#include "net/tls_settings.h"

// How the node's HTTP listener (/, /status, /metrics, /events) is secured (docs/security.md):
// plain settings, apart from what enforces them (http_status.h), so that the configuration
// does not pull in OpenSSL or cpp-httplib.
namespace raftkv::server {

struct HttpSecurity {
  // Empty cert_file: plaintext HTTP. Else HTTPS with this certificate and key; ca_file is what
  // a client certificate must chain to when client_certificates asks for one.
  net::TlsFiles tls;
  // A browser has no client certificate unless its user installed one: off by default.
  net::ClientCertificates client_certificates = net::ClientCertificates::No;
  // Non-empty: every request must carry `Authorization: Bearer <token>` (CORS preflights
  // excepted: they carry no credentials and are answered with headers only).
  std::string token;

  [[nodiscard]] bool tls_enabled() const { return tls.enabled(); }
};

}  // namespace raftkv::server
