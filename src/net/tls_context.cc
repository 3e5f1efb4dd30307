#include "net/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>

#include "common/assert.h"

namespace raftkv::net {
namespace {

Status refused(const std::string& what, const std::string& file, const asio::error_code& error) {
  return {ErrorCode::InvalidArgument,
          "TLS: cannot use " + what + " '" + file + "': " + error.message()};
}

// What both sides share: TLS 1.2 or newer, our certificate chain and key, the CA bundle.
Status configure(asio::ssl::context& context, const TlsFiles& files) {
  RAFT_ASSERT(files.enabled());
  asio::error_code error;
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                      error);
  if (error) return {ErrorCode::InvalidArgument, "TLS: options: " + error.message()};
  if (SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION) != 1) {
    return {ErrorCode::InvalidArgument, "TLS: cannot require TLS 1.2"};
  }
  context.use_certificate_chain_file(files.cert_file, error);
  if (error) return refused("certificate", files.cert_file, error);
  context.use_private_key_file(files.key_file, asio::ssl::context::pem, error);
  if (error) return refused("private key", files.key_file, error);
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return {ErrorCode::InvalidArgument, "TLS: the key '" + files.key_file +
                                            "' does not match the certificate '" +
                                            files.cert_file + "'"};
  }
  if (!files.ca_file.empty()) {
    context.load_verify_file(files.ca_file, error);
    if (error) return refused("CA bundle", files.ca_file, error);
  }
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(
    const TlsFiles& files, ClientCertificates client_certificates) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  if (Status status = configure(*context, files); !status.is_ok()) return status;
  if (client_certificates != ClientCertificates::No && files.ca_file.empty()) {
    return Status(ErrorCode::InvalidArgument,
                  "TLS: verifying the other side's certificate needs a CA bundle");
  }
  asio::ssl::verify_mode mode = asio::ssl::verify_none;
  if (client_certificates == ClientCertificates::Optional) mode = asio::ssl::verify_peer;
  if (client_certificates == ClientCertificates::Yes) {
    mode = asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert;
  }
  asio::error_code error;
  context->set_verify_mode(mode, error);
  if (error) return Status(ErrorCode::InvalidArgument, "TLS: verify mode: " + error.message());
  return context;
}

Result<std::shared_ptr<asio::ssl::context>> make_dialer_tls_context(const TlsFiles& files) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  if (Status status = configure(*context, files); !status.is_ok()) return status;
  if (files.ca_file.empty()) {
    return Status(ErrorCode::InvalidArgument,
                  "TLS: verifying the other side's certificate needs a CA bundle");
  }
  asio::error_code error;
  context->set_verify_mode(asio::ssl::verify_peer, error);
  if (error) return Status(ErrorCode::InvalidArgument, "TLS: verify mode: " + error.message());
  return context;
}

std::string node_certificate_name(NodeId id) {
  RAFT_ASSERT(id != kNoNode);
  return "raftkv-node-" + std::to_string(id.value());
}

std::string certificate_name_mismatch(asio::ssl::stream<asio::ip::tcp::socket>& stream,
                                      const std::string& name) {
  RAFT_ASSERT(!name.empty());
  // Owned here (get1): freed on every path below.
  std::unique_ptr<X509, decltype(&X509_free)> certificate(
      SSL_get1_peer_certificate(stream.native_handle()), &X509_free);
  if (certificate == nullptr) return "it presented no certificate";
  if (X509_check_host(certificate.get(), name.data(), name.size(), 0, nullptr) == 1) return "";
  std::array<char, 256> subject{};
  X509_NAME_oneline(X509_get_subject_name(certificate.get()), subject.data(),
                    static_cast<int>(subject.size()));
  return "its certificate (subject " + std::string(subject.data()) + ") does not name " + name;
}

}  // namespace raftkv::net
