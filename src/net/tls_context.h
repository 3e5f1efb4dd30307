#pragma once

#include <asio/ssl.hpp>
#include <memory>

#include "common/status.h"
#include "net/tls_settings.h"

// TLS contexts from PEM files, for the client listener (server/client_server.h); in src/net
// so that the peer links can share them. TLS 1.2 or newer through OpenSSL (asio::ssl), a
// certificate chain and its key, and the CA bundle the other side's certificate must chain
// to. A context is built once per (re)load and shared by the connections made with it; a
// connection keeps its context alive, so reloading certificates (SIGHUP) changes new
// connections only.
namespace raftkv::net {

// A server-side context: our certificate and key; the other side's certificate, when asked
// for, verified against files.ca_file. InvalidArgument naming the file and OpenSSL's reason
// when a file is missing, unreadable, not PEM, or the key does not match the certificate.
[[nodiscard]] Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(
    const TlsFiles& files, ClientCertificates client_certificates);

}  // namespace raftkv::net
