#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/logger.h"
#include "raft/raft.h"
#include "runtime/environment.h"
#include "runtime/metrics.h"
#include "runtime/observer.h"
#include "runtime/options.h"
#include "runtime/state_machine.h"
#include "runtime/storage.h"
#include "runtime/transport.h"

// What the parts of one runtime::Node share: its environment, its core, and the few actions
// every part may ask of the loop. Owned by the Node; the parts keep a reference.
namespace raftkv::runtime {

struct NodeContext {
  const NodeOptions& options;
  Environment& env;
  Storage& storage;
  StateMachine& state_machine;
  Transport& transport;
  Logger& logger;
  Metrics& metrics;
  Observer* observer = nullptr;  // Never null once the Node is built (a no-op by default).
  std::unique_ptr<raft::Raft> core;  // Set by Node::start().

  // Take the core's next Ready now, or once the handlers queued on the loop have run (so that
  // requests arriving together share one Ready).
  std::function<void()> drive;
  std::function<void()> drive_soon;
  // Stop the node for good (a storage failure): see Environment::fatal.
  std::function<void(const std::string& why)> fail_stop;
  // False once the Node is gone: callbacks queued in the environment check it first.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  // `fn`, made safe to queue in the environment: it does nothing once the Node is gone.
  [[nodiscard]] std::function<void()> guarded(std::function<void()> fn) const {
    return [alive = alive, fn = std::move(fn)] {
      if (*alive) fn();
    };
  }

  [[nodiscard]] NodeId id() const { return options.raft.id; }
  [[nodiscard]] uint64_t now_ms() const { return env.now_us() / 1000; }
};

}  // namespace raftkv::runtime
