#include "server/certificates.h"

#include <csignal>
#include <utility>

namespace raftkv::server {

Certificates::Certificates(asio::io_context& io, TlsOptions options, Logger& logger)
    : options_(std::move(options)), logger_(logger), sighup_(io) {}

Status Certificates::start() {
  RAFT_ASSERT(client_ == nullptr);
  if (!options_.enabled()) return Status::ok();
  if (Status status = load(); !status.is_ok()) return status;
  asio::error_code error;
  sighup_.add(SIGHUP, error);
  if (error) return Status(ErrorCode::IoError, "cannot watch SIGHUP: " + error.message());
  wait_for_sighup();
  RAFT_ASSERT(client_ != nullptr);
  return Status::ok();
}

void Certificates::stop() {
  stopped_ = true;
  asio::error_code ignored;
  sighup_.cancel(ignored);
}

Status Certificates::load() {
  Result<std::shared_ptr<asio::ssl::context>> client =
      net::make_server_tls_context(options_.files, options_.client_certificates);
  if (!client.is_ok()) return client.status();
  client_ = std::move(client).value();  // Only once every context is built.
  return Status::ok();
}

void Certificates::wait_for_sighup() {
  sighup_.async_wait([this](const asio::error_code& error, int) {
    if (error || stopped_) return;
    if (Status status = load(); !status.is_ok()) {
      log_to(logger_, LogLevel::Error, "SIGHUP: certificates not reloaded, the old ones stay: ",
             status.message());
    } else {
      log_to(logger_, LogLevel::Info, "SIGHUP: certificates reloaded from ",
             options_.files.cert_file, "; new connections use them");
    }
    wait_for_sighup();
  });
}

}  // namespace raftkv::server
