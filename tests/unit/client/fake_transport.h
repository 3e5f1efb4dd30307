#pragma once

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/connection.h"

// A scripted stand-in for the network, so the client's retry policies are tested without
// ports, threads or real time. The test keeps a shared_ptr to the FakeCluster and inspects
// what was sent after the client (which owns the FakeTransport) has acted.
//   - INFO is answered from `leader`: the named endpoint says role:leader, the others say
//     follower with leader_addr = leader.
//   - Every other command takes the next Step from `script` (an empty script answers an
//     error the test will notice).

namespace raftkv::client::testing {

struct Step {
  Exchange::Kind kind = Exchange::Kind::Replied;
  Reply reply;
  static Step replied(Reply reply) { return {Exchange::Kind::Replied, std::move(reply)}; }
  static Step lost() { return {Exchange::Kind::Lost, {}}; }
  static Step not_sent() { return {Exchange::Kind::NotSent, {}}; }
};

struct Sent {
  Endpoint endpoint;
  std::vector<std::string> args;
};

class FakeClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() override { return now_; }
  void sleep_until(TimePoint when) override {
    sleeps.push_back(std::chrono::duration_cast<Millis>(when - now_));
    now_ = std::max(now_, when);
  }
  std::vector<Millis> sleeps;

 private:
  TimePoint now_{};
};

struct FakeCluster {
  std::set<std::string> down;  // Endpoints ("host:port") that refuse connections.
  std::set<std::string> silent;  // Endpoints that accept connections but never answer INFO.
  std::string leader;          // Endpoint INFO names as leader ("" = none known).
  std::deque<Step> script;
  std::vector<Sent> sent;      // Every command that went out whole, INFO included.
  int connects = 0;

  // The non-INFO commands sent, in order.
  [[nodiscard]] std::vector<Sent> data_sent() const {
    std::vector<Sent> out;
    for (const Sent& item : sent) {
      if (item.args.front() != "INFO") out.push_back(item);
    }
    return out;
  }
  // How many times a command with this name went out.
  [[nodiscard]] int count(const std::string& name) const {
    int n = 0;
    for (const Sent& item : sent) n += item.args.front() == name ? 1 : 0;
    return n;
  }
};

class FakeConnection final : public Connection {
 public:
  FakeConnection(std::shared_ptr<FakeCluster> cluster, Endpoint endpoint)
      : cluster_(std::move(cluster)), endpoint_(std::move(endpoint)) {}

  [[nodiscard]] Exchange exchange(const std::vector<std::vector<std::string>>& commands,
                                  TimePoint) override {
    Exchange result{Exchange::Kind::Replied, {}, ""};
    for (const auto& args : commands) {
      if (args.front() == "INFO") {
        cluster_->sent.push_back({endpoint_, args});
        if (cluster_->silent.contains(endpoint_.to_string())) {
          return {Exchange::Kind::Lost, {}, "scripted silence"};
        }
        result.replies.push_back(Reply::bulk(info_text()));
        continue;
      }
      Step step = Step::replied(Reply::error("ERR fake script exhausted"));
      if (!cluster_->script.empty()) {
        step = std::move(cluster_->script.front());
        cluster_->script.pop_front();
      }
      if (step.kind != Exchange::Kind::NotSent) cluster_->sent.push_back({endpoint_, args});
      if (step.kind != Exchange::Kind::Replied) return {step.kind, {}, "scripted failure"};
      result.replies.push_back(std::move(step.reply));
    }
    return result;
  }
  [[nodiscard]] const Endpoint& endpoint() const override { return endpoint_; }

 private:
  std::string info_text() const {
    const std::string self = endpoint_.to_string();
    const bool leads = self == cluster_->leader;
    return "# Raft\r\nrole:" + std::string(leads ? "leader" : "follower") +
           "\r\nterm:3\r\nleader_addr:" + cluster_->leader + "\r\n";
  }

  std::shared_ptr<FakeCluster> cluster_;
  Endpoint endpoint_;
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeCluster> cluster) : cluster_(std::move(cluster)) {}

  [[nodiscard]] Result<std::unique_ptr<Connection>> connect(const Endpoint& endpoint,
                                                            TimePoint) override {
    ++cluster_->connects;
    if (cluster_->down.contains(endpoint.to_string())) {
      return Status(ErrorCode::Unavailable, "connection refused");
    }
    return std::unique_ptr<Connection>(new FakeConnection(cluster_, endpoint));
  }

 private:
  std::shared_ptr<FakeCluster> cluster_;
};

}  // namespace raftkv::client::testing
