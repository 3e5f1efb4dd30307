#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "common/logger.h"
#include "common/status.h"
#include "net/tls_context.h"
#include "server/tls_options.h"

// The node's TLS contexts, built from its certificate, key and CA files and rebuilt from them
// on SIGHUP, without a restart or a leader change: connections made after a reload use the new
// files, those already open keep the context they began with. A reload that fails (a missing
// file, a key that does not match its certificate) is logged and changes nothing.
// Io thread only.
namespace raftkv::server {

class Certificates {
 public:
  Certificates(asio::io_context& io, TlsOptions options, Logger& logger);

  // Builds the contexts; InvalidArgument naming the file and the reason. Then reloads them on
  // every SIGHUP until stop().
  [[nodiscard]] Status start();
  void stop();
  // Also runs `reload` on every SIGHUP, after this class's own contexts: one watcher and one
  // reload for every TLS context of the node, also those built elsewhere (the HTTPS
  // listener's). Watches SIGHUP from now on if start() did not.
  [[nodiscard]] Status on_reload(std::function<void()> reload);

  // The context for a new client connection on the TLS port; null before start() or without
  // --tls-cert-file.
  [[nodiscard]] std::shared_ptr<asio::ssl::context> client_context() const { return client_; }
  // The contexts for a new peer connection, accepted and dialled; null before start() or
  // without --peer-tls-cert-file.
  [[nodiscard]] std::shared_ptr<asio::ssl::context> peer_listener_context() const {
    return peer_listener_;
  }
  [[nodiscard]] std::shared_ptr<asio::ssl::context> peer_dialer_context() const {
    return peer_dialer_;
  }

 private:
  [[nodiscard]] Status load();
  [[nodiscard]] Status watch_sighup();
  void wait_for_sighup();
  void reload();

  const TlsOptions options_;
  Logger& logger_;
  asio::signal_set sighup_;
  std::shared_ptr<asio::ssl::context> client_;
  std::shared_ptr<asio::ssl::context> peer_listener_;
  std::shared_ptr<asio::ssl::context> peer_dialer_;
  std::vector<std::function<void()>> reloads_;
  bool watching_ = false;
  bool stopped_ = false;
};

}  // namespace raftkv::server
