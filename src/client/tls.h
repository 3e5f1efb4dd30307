#pragma once

#include <memory>
#include <string>

#include "common/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, kept out of the callers' includes.
struct ssl_st;      // OpenSSL's SSL.

// TLS for the client library (OpenSSL), as redis-cli's --tls --cacert --cert --key set it:
// TLS 1.2 or newer, the node's certificate verified against the CA bundle and against the
// host the client dialled (an IP address must be among the certificate's IP names, a host
// name among its DNS names), and a client certificate presented when given (raftkv's TLS port
// requires one by default).
namespace raftkv::client {

struct TlsOptions {
  bool enabled = false;
  std::string ca_file;    // PEM CA bundle; empty: the system's default trust store.
  std::string cert_file;  // PEM client certificate (chain); empty: none presented.
  std::string key_file;   // Its private key; required with cert_file.
};

// An OpenSSL client context made once from TlsOptions and shared by every connection made
// with it. Immutable after make(); connections may be made from any thread.
class TlsContext {
 public:
  // InvalidArgument naming the file and OpenSSL's reason when a file is missing, unreadable,
  // not PEM, or the key does not match the certificate.
  [[nodiscard]] static Result<std::shared_ptr<TlsContext>> make(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  [[nodiscard]] ssl_ctx_st* native() const { return context_; }

 private:
  explicit TlsContext(ssl_ctx_st* context) : context_(context) {}
  ssl_ctx_st* context_;
};

// Makes the handshake of `ssl` (a client session not yet connected) require that the node's
// certificate names `host`, the host dialled: an IP address among its IP names, a host name
// among its DNS names (also sent as SNI). False if OpenSSL refused the name.
[[nodiscard]] bool tls_expect_host(ssl_st* ssl, const std::string& host);

// OpenSSL's reasons for the last failure on this thread, oldest first, "; "-separated (the
// queue is emptied); `fallback` when there are none.
[[nodiscard]] std::string tls_error_text(const std::string& fallback);

}  // namespace raftkv::client
