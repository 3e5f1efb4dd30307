#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "client/client.h"
#include "common/status.h"
#include "local_cluster.h"
#include "partition.h"

namespace httplib {
class Server;
}  // namespace httplib

// The control side of the web view (docs/web.md), served by the local-cluster tool, which has
// the nodes' pids and command lines. The page finds it through its URL
// (`?control=HOST:PORT&token=TOKEN`, page_url()); without it the page is read-only.
//
//   GET  /api/state                 nodes (id, pid, running, paused, isolated, http, client),
//                                   whether actions are on, whether partitions and leadership
//                                   transfer are available (and why not), the demo's step.
//   POST /api/nodes/ID/ACTION       ACTION: kill (SIGKILL), restart (SIGTERM, then start),
//                                   pause (SIGSTOP), resume (SIGCONT), partition, heal.
//   POST /api/write?key=K&value=V   SET through the leader-following client.
// Every POST needs ?token=TOKEN (a random one per run): only the page the tool printed may act,
// not another site open in the same browser. Responses carry Access-Control-Allow-Origin for
// the nodes' HTTP addresses, where the page comes from. With controls off (the demo) every
// POST is refused and the state carries only the step being told.
//
// Thread-safety: the HTTP threads serialise on one mutex for the cluster; with controls on,
// nothing else may use the LocalCluster while the server runs.
namespace raftkv::tools {

struct WebControlOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  bool controls = true;
  std::string token;  // Required on every POST; must not be empty with controls on.
};

class WebControl {
 public:
  WebControl(LocalCluster& cluster, WebControlOptions options);
  ~WebControl();
  WebControl(const WebControl&) = delete;
  WebControl& operator=(const WebControl&) = delete;

  // Binds and serves on a thread of its own. IoError naming the address if it cannot bind.
  [[nodiscard]] Status start();
  // Stops serving and heals every partition.
  void stop();
  // The step a demo is at, shown on the page.
  void set_step(const std::string& text);
  // The page of node `id` with this controller in its query.
  [[nodiscard]] std::string page_url(int id) const;

  // The JSON of GET /api/state.
  [[nodiscard]] std::string state_json();
  // One node action; the reply text for the page. InvalidArgument for an unknown action or
  // node, else what the action failed on.
  [[nodiscard]] Result<std::string> act(int id, const std::string& action);
  // SET key value; the JSON reply (ok, reply, endpoint, ms).
  [[nodiscard]] std::string write(const std::string& key, const std::string& value);
  // Asks the leader to hand leadership to node `id` (RAFT.TRANSFER).
  [[nodiscard]] Status transfer_to(int id);

 private:
  [[nodiscard]] Status signal_node(int id, int signal);
  [[nodiscard]] Status restart(int id);
  [[nodiscard]] bool allowed_origin(const std::string& origin) const;
  [[nodiscard]] std::string page_scheme() const;  // "http://" or "https://".
  [[nodiscard]] ClusterLayout current_layout() const;

  LocalCluster& cluster_;
  const ClusterLayout layout_;
  const WebControlOptions options_;
  std::mutex mu_;  // Guards cluster_, partitioner_, paused_, step_.
  std::unique_ptr<Partitioner> partitioner_;
  std::set<int> paused_;
  std::string step_;
  std::mutex write_mu_;  // One write at a time through client_.
  client::Client client_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// A random token for WebControlOptions::token (16 hex digits).
[[nodiscard]] std::string random_token();

}  // namespace raftkv::tools
