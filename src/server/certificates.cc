#include "server/certificates.h"

#include <csignal>
#include <utility>

namespace raftkv::server {

Certificates::Certificates(asio::io_context& io, TlsOptions options, Logger& logger)
    : options_(std::move(options)), logger_(logger), sighup_(io) {}

Status Certificates::start() {
  RAFT_ASSERT(client_ == nullptr);
  RAFT_ASSERT(peer_dialer_ == nullptr);
  if (!options_.enabled()) return Status::ok();
  if (Status status = load(); !status.is_ok()) return status;
  RAFT_ASSERT((client_ != nullptr) == options_.files.enabled());
  RAFT_ASSERT((peer_dialer_ != nullptr) == options_.peer_files.enabled());
  return watch_sighup();
}

Status Certificates::on_reload(std::function<void()> reload) {
  reloads_.push_back(std::move(reload));
  return watch_sighup();
}

Status Certificates::watch_sighup() {
  if (watching_) return Status::ok();
  asio::error_code error;
  sighup_.add(SIGHUP, error);
  if (error) return Status(ErrorCode::IoError, "cannot watch SIGHUP: " + error.message());
  watching_ = true;
  wait_for_sighup();
  return Status::ok();
}

void Certificates::stop() {
  stopped_ = true;
  asio::error_code ignored;
  sighup_.cancel(ignored);
}

Status Certificates::load() {
  std::shared_ptr<asio::ssl::context> client;
  std::shared_ptr<asio::ssl::context> peer_listener;
  std::shared_ptr<asio::ssl::context> peer_dialer;
  if (options_.files.enabled()) {
    Result<std::shared_ptr<asio::ssl::context>> made =
        net::make_server_tls_context(options_.files, options_.client_certificates);
    if (!made.is_ok()) return made.status();
    client = std::move(made).value();
  }
  if (options_.peer_files.enabled()) {
    // Peers always present a certificate: it is what binds them to their node id.
    Result<std::shared_ptr<asio::ssl::context>> listener =
        net::make_server_tls_context(options_.peer_files, net::ClientCertificates::Yes);
    if (!listener.is_ok()) return listener.status();
    Result<std::shared_ptr<asio::ssl::context>> dialer =
        net::make_dialer_tls_context(options_.peer_files);
    if (!dialer.is_ok()) return dialer.status();
    peer_listener = std::move(listener).value();
    peer_dialer = std::move(dialer).value();
  }
  // Only once every context is built: a failed reload changes nothing.
  client_ = std::move(client);
  peer_listener_ = std::move(peer_listener);
  peer_dialer_ = std::move(peer_dialer);
  return Status::ok();
}

void Certificates::wait_for_sighup() {
  sighup_.async_wait([this](const asio::error_code& error, int) {
    if (error || stopped_) return;
    reload();
    wait_for_sighup();
  });
}

void Certificates::reload() {
  for (const std::function<void()>& also : reloads_) also();
  if (!options_.enabled()) return;
  if (Status status = load(); !status.is_ok()) {
      log_to(logger_, LogLevel::Error, "SIGHUP: certificates not reloaded, the old ones stay: ",
             status.message());
    } else {
      log_to(logger_, LogLevel::Info, "SIGHUP: certificates reloaded from ",
             options_.files.enabled() ? options_.files.cert_file : "",
             options_.files.enabled() && options_.peer_files.enabled() ? " and " : "",
             options_.peer_files.enabled() ? options_.peer_files.cert_file + " (peers)" : "",
             "; new connections use them");
  }
}

}  // namespace raftkv::server
