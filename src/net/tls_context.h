#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/types.h"
#include "net/tls_settings.h"

// TLS contexts from PEM files, for the client listener (server/client_server.h) and the peer
// links (net/peer_transport.h). TLS 1.2 or newer through OpenSSL (asio::ssl), a certificate
// chain and its key, and the CA bundle the other side's certificate must chain to. A context
// is built once per (re)load and shared by the connections made with it; a connection keeps
// its context alive, so reloading certificates (SIGHUP) changes new connections only.
namespace raftkv::net {

// A server-side context: our certificate and key; the other side's certificate, when asked
// for, verified against files.ca_file. InvalidArgument naming the file and OpenSSL's reason
// when a file is missing, unreadable, not PEM, or the key does not match the certificate.
[[nodiscard]] Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(
    const TlsFiles& files, ClientCertificates client_certificates);

// A context for the side that dials: presents our certificate and key, and verifies the
// listener's certificate against files.ca_file (required). Errors as above.
[[nodiscard]] Result<std::shared_ptr<asio::ssl::context>> make_dialer_tls_context(
    const TlsFiles& files);

// The name a node's certificate must carry, as its common name or a DNS subject alternative
// name, to speak as node `id` on the peer links: "raftkv-node-<id>".
[[nodiscard]] std::string node_certificate_name(NodeId id);

// Empty if the other side of the (handshaken, verified) `stream` presented a certificate
// naming `name` (a DNS SAN; the common name only when it has no DNS SAN, as RFC 6125 says);
// otherwise why not, naming what the certificate does carry.
[[nodiscard]] std::string certificate_name_mismatch(
    asio::ssl::stream<asio::ip::tcp::socket>& stream, const std::string& name);

}  // namespace raftkv::net
