#include "client/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/assert.h"

namespace raftkv::client {

std::string tls_error_text(const std::string& fallback) {
  std::string text;
  for (unsigned long code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += (text.empty() ? "" : "; ") + std::string(buffer);
  }
  return text.empty() ? fallback : text;
}

bool tls_expect_host(SSL* ssl, const std::string& host) {
  RAFT_ASSERT(ssl != nullptr);
  in6_addr ip{};
  const bool is_ip = ::inet_pton(AF_INET, host.c_str(), &ip) == 1 ||
                     ::inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  return is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
               : SSL_set1_host(ssl, host.c_str()) == 1 &&
                     SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
}

Result<std::shared_ptr<TlsContext>> TlsContext::make(const TlsOptions& options) {
  RAFT_ASSERT(options.enabled);
  SSL_CTX* native = SSL_CTX_new(TLS_client_method());
  if (native == nullptr) return Status(ErrorCode::InvalidArgument, tls_error_text("SSL_CTX_new"));
  std::shared_ptr<TlsContext> context(new TlsContext(native));  // Frees `native` on any return.
  auto refused = [](const std::string& what, const std::string& file) {
    return Status(ErrorCode::InvalidArgument,
                  "TLS: cannot use " + what + " '" + file + "': " + tls_error_text("unknown"));
  };
  (void)SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(native, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  const bool ca_loaded = options.ca_file.empty()
                             ? SSL_CTX_set_default_verify_paths(native) == 1
                             : SSL_CTX_load_verify_locations(native, options.ca_file.c_str(),
                                                             nullptr) == 1;
  if (!ca_loaded) return refused("CA bundle", options.ca_file);
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status(ErrorCode::InvalidArgument, "TLS: a client certificate needs its key, and "
                                              "a key its certificate");
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, options.cert_file.c_str()) != 1) {
      return refused("certificate", options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(native, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1) {
      return refused("private key", options.key_file);
    }
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

}  // namespace raftkv::client
