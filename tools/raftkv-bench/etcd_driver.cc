#include "etcd_driver.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "common/assert.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace raftkv::bench {
namespace {

using std::chrono::nanoseconds;
using std::chrono::system_clock;

constexpr int64_t kTickNs = 100'000'000;  // Longest wait in the loop: publishing, stopping.
constexpr int64_t kConnectWaitNs = 3'000'000'000;  // Per endpoint, before the clock starts.

// gRPC deadlines are system_clock; our schedule is steady_clock.
system_clock::time_point system_time_of(int64_t steady_ns) {
  return system_clock::now() + nanoseconds(steady_ns - now_ns());
}

// What every thread of a phase reads and nobody writes once the threads run.
struct EtcdShared {
  const BenchOptions& options;
  RunControl& control;
  std::string value;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // TLS with --tls, else insecure.
};

// A channel of its own (local subchannel pool: its own TCP connection) to one endpoint.
// generation grows each time it moves to the next endpoint, so that the many calls failing
// together on a dead endpoint move it once, not once per call.
struct EtcdChannel {
  size_t endpoint = 0;
  uint64_t generation = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> stub;
};

// The whole of a PEM file; empty `path`: "" (gRPC then uses its defaults).
Result<std::string> read_pem(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  if (!file.good() || text.str().empty()) {
    return Status(ErrorCode::InvalidArgument, "cannot read " + path);
  }
  return text.str();
}

// --tls: gRPC's TLS with the CA, certificate and key of --cacert, --cert and --key, so that
// etcd can be measured with its client TLS on (--cert-file, --key-file, --client-cert-auth);
// the endpoint's host is checked against the server certificate's names.
Result<std::shared_ptr<grpc::ChannelCredentials>> make_credentials(
    const client::TlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  for (auto [path, pem] : {std::pair{&tls.ca_file, &ssl.pem_root_certs},
                           std::pair{&tls.cert_file, &ssl.pem_cert_chain},
                           std::pair{&tls.key_file, &ssl.pem_private_key}}) {
    Result<std::string> read = read_pem(*path);
    if (!read.is_ok()) return read.status();
    *pem = std::move(read).value();
  }
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> make_channel(
    const client::Endpoint& endpoint,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // gRPC's default first reconnect backoff is 1 s; failover figures need faster.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(endpoint.to_string(), credentials, args);
}

class EtcdWorker;
class EtcdClient;

// What a completion-queue tag points at: one client's call or its alarm.
struct Tag {
  enum class Kind { Call, Alarm };
  EtcdClient* client;
  Kind kind;
};

// One closed- or open-loop client: its schedule (ClientCore), the call in flight and an alarm
// for due times and backoffs. Owned by an EtcdWorker; calls go through one EtcdChannel.
class EtcdClient {
 public:
  EtcdClient(ClientCore core, EtcdWorker& worker, EtcdChannel& channel);

  void advance();
  void on_event(Tag::Kind kind, bool ok);
  // Shutting down: cancel what is pending (its tag still comes out of the queue).
  void cancel();

 private:
  void issue();
  void on_call_done();
  void set_alarm(int64_t due_ns, bool resend);

  ClientCore core_;
  EtcdWorker& worker_;
  EtcdChannel& channel_;
  Tag call_tag_{this, Tag::Kind::Call};
  Tag alarm_tag_{this, Tag::Kind::Alarm};
  std::unique_ptr<grpc::ClientContext> context_;
  uint64_t call_generation_ = 0;
  etcdserverpb::PutRequest put_;
  etcdserverpb::PutResponse put_response_;
  etcdserverpb::RangeRequest range_;
  etcdserverpb::RangeResponse range_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put_reader_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range_reader_;
  grpc::Status status_;
  grpc::Alarm alarm_;
  bool call_pending_ = false;
  bool alarm_pending_ = false;
  bool alarm_resends_ = false;  // The alarm re-sends the current op (else plans the next).
};

// One thread: its completion queue, channels and clients. The queue is declared first so that
// it is destroyed last; run() shuts it down and drains it before returning.
class EtcdWorker {
 public:
  EtcdWorker(EtcdShared& phase, ThreadStats& thread_stats)
      : shared(phase), stats(thread_stats), key(phase.options.key_size, 'k') {}
  ~EtcdWorker();

  void connect();
  void run();
  void client_stopped();
  // A call on `channel` of `generation` failed for want of a server: move it on (once).
  void move_channel(EtcdChannel& channel, uint64_t generation, const std::string& why);

  grpc::CompletionQueue cq;
  EtcdShared& shared;
  ThreadStats& stats;
  std::string key;  // Scratch for format_key().
  std::vector<std::unique_ptr<EtcdChannel>> channels;
  std::vector<std::unique_ptr<EtcdClient>> clients;

 private:
  void shut_down();

  std::vector<std::shared_ptr<grpc::Channel>> retired_;  // Outlive the calls made on them.
  size_t active_clients_ = 0;
  bool drained_ = false;
};

// ---- EtcdClient ------------------------------------------------------------------------------

EtcdClient::EtcdClient(ClientCore core, EtcdWorker& worker, EtcdChannel& channel)
    : core_(std::move(core)), worker_(worker), channel_(channel) {
  put_.set_value(worker.shared.value);
  range_.set_serializable(worker.shared.options.read_mode == ReadMode::Serializable);
}

void EtcdClient::advance() {
  RAFT_ASSERT(!call_pending_);
  RAFT_ASSERT(!alarm_pending_);
  int64_t due_ns = 0;
  switch (core_.plan(now_ns(), &due_ns)) {
    case ClientCore::Next::Send:
      issue();
      return;
    case ClientCore::Next::Wait:
      set_alarm(due_ns, /*resend=*/false);
      return;
    case ClientCore::Next::Stop:
      worker_.client_stopped();
      return;
  }
}

void EtcdClient::set_alarm(int64_t due_ns, bool resend) {
  RAFT_ASSERT(!alarm_pending_);
  alarm_pending_ = true;
  alarm_resends_ = resend;
  alarm_.Set(&worker_.cq, system_time_of(due_ns), &alarm_tag_);
}

void EtcdClient::issue() {
  RAFT_ASSERT(!call_pending_);
  const Op& op = core_.op();
  format_key(op.key, worker_.key);
  context_ = std::make_unique<grpc::ClientContext>();
  context_->set_deadline(system_clock::now() +
                         std::chrono::milliseconds(worker_.shared.options.timeout_ms));
  call_generation_ = channel_.generation;
  call_pending_ = true;
  if (op.kind == OpKind::Read) {
    range_.set_key(worker_.key);
    range_reader_ = channel_.stub->AsyncRange(context_.get(), range_, &worker_.cq);
    range_reader_->Finish(&range_response_, &status_, &call_tag_);
  } else {
    put_.set_key(worker_.key);
    put_reader_ = channel_.stub->AsyncPut(context_.get(), put_, &worker_.cq);
    put_reader_->Finish(&put_response_, &status_, &call_tag_);
  }
}

void EtcdClient::on_event(Tag::Kind kind, bool ok) {
  if (kind == Tag::Kind::Alarm) {
    RAFT_ASSERT(alarm_pending_);
    alarm_pending_ = false;
    if (!ok) return;  // Cancelled: shutting down.
    if (alarm_resends_) {
      issue();
    } else {
      advance();
    }
    return;
  }
  RAFT_ASSERT(call_pending_);
  call_pending_ = false;
  on_call_done();
}

void EtcdClient::on_call_done() {
  const int64_t now = now_ns();
  if (status_.ok()) {
    core_.acknowledged(now);
    advance();
    return;
  }
  const grpc::StatusCode code = status_.error_code();
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    worker_.move_channel(channel_, call_generation_, status_.error_message());
    set_alarm(now + core_.retry(/*backoff=*/true), /*resend=*/true);
    return;
  }
  core_.failed(now, "grpc status " + std::to_string(static_cast<int>(code)) + ": " +
                        status_.error_message());
  advance();
}

void EtcdClient::cancel() {
  if (call_pending_) context_->TryCancel();
  if (alarm_pending_) alarm_.Cancel();
}

// ---- EtcdWorker ------------------------------------------------------------------------------

EtcdWorker::~EtcdWorker() {
  if (!drained_) shut_down();
}

void EtcdWorker::connect() {
  const auto& endpoints = shared.options.endpoints;
  for (auto& channel : channels) {
    // Before the clock starts: wait for each channel's connection, moving on past dead nodes.
    for (size_t tried = 0; tried < endpoints.size(); ++tried) {
      const auto deadline = system_clock::now() + nanoseconds(kConnectWaitNs);
      if (channel->channel->WaitForConnected(deadline)) break;
      move_channel(*channel, channel->generation, "not connected within 3 s");
    }
  }
}

void EtcdWorker::move_channel(EtcdChannel& channel, uint64_t generation, const std::string& why) {
  if (generation != channel.generation) return;  // Already moved since that call started.
  const auto& endpoints = shared.options.endpoints;
  stats.note_failure(endpoints[channel.endpoint].to_string() + ": " + why);
  retired_.push_back(std::move(channel.channel));
  channel.endpoint = (channel.endpoint + 1) % endpoints.size();
  channel.channel = make_channel(endpoints[channel.endpoint], shared.credentials);
  channel.stub = etcdserverpb::KV::NewStub(channel.channel);
  ++channel.generation;
}

void EtcdWorker::client_stopped() {
  RAFT_ASSERT(active_clients_ > 0);
  --active_clients_;
}

void EtcdWorker::run() {
  active_clients_ = clients.size();
  RAFT_ASSERT(active_clients_ > 0);
  for (auto& client : clients) client->advance();
  int64_t published = now_ns();
  const RunControl& control = shared.control;
  // Bounded by the phase: it ends at end_ns, when every client stopped, or on a stop request.
  while (active_clients_ > 0 && !control.stop_requested()) {
    const int64_t now = now_ns();
    if (now >= control.end_ns()) break;
    const int64_t wake = std::min(now + kTickNs, control.end_ns());
    void* tag = nullptr;
    bool ok = false;
    const auto next = cq.AsyncNext(&tag, &ok, system_time_of(wake));
    if (next == grpc::CompletionQueue::SHUTDOWN) break;
    if (next == grpc::CompletionQueue::GOT_EVENT) {
      auto* event = static_cast<Tag*>(tag);
      event->client->on_event(event->kind, ok);
    }
    if (now - published >= kPublishNs) {
      stats.publish();
      published = now;
    }
  }
  shut_down();
}

void EtcdWorker::shut_down() {
  RAFT_ASSERT(!drained_);
  for (auto& client : clients) client->cancel();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  // Every pending call and alarm yields its tag once (cancelled); then Next returns false.
  while (cq.Next(&tag, &ok)) {
  }
  drained_ = true;
}

// ---- The phase -------------------------------------------------------------------------------

class EtcdPhase : public PhaseThreads {
 public:
  EtcdPhase(EtcdShared shared, const WorkloadSpec& spec, std::vector<ThreadStats>& stats)
      : shared_(std::move(shared)) {
    const BenchOptions& o = shared_.options;
    RAFT_ASSERT(stats.size() == o.threads);
    for (uint32_t t = 0; t < o.threads; ++t) {
      workers_.push_back(std::make_unique<EtcdWorker>(shared_, stats[t]));
    }
    // Channel j belongs to thread j % T; client i uses channel i % M.
    for (uint32_t j = 0; j < o.connections; ++j) {
      auto channel = std::make_unique<EtcdChannel>();
      channel->channel = make_channel(o.endpoints[0], shared_.credentials);
      channel->stub = etcdserverpb::KV::NewStub(channel->channel);
      workers_[j % o.threads]->channels.push_back(std::move(channel));
    }
    for (uint32_t i = 0; i < o.clients; ++i) {
      const uint32_t j = i % o.connections;
      EtcdWorker& worker = *workers_[j % o.threads];
      EtcdChannel& channel = *worker.channels[j / o.threads];
      ClientCore core = ClientCore::scheduled(i, o.clients, o.rate_ops_per_s, spec,
                                              shared_.control, stats[j % o.threads]);
      worker.clients.push_back(std::make_unique<EtcdClient>(std::move(core), worker, channel));
    }
  }

  void connect(uint32_t thread) override { workers_.at(thread)->connect(); }
  void run(uint32_t thread) override { workers_.at(thread)->run(); }

 private:
  EtcdShared shared_;
  std::vector<std::unique_ptr<EtcdWorker>> workers_;
};

}  // namespace

Result<std::unique_ptr<PhaseThreads>> make_etcd_phase(const BenchOptions& options,
                                                      const WorkloadSpec& spec,
                                                      RunControl& control,
                                                      std::vector<ThreadStats>& stats) {
  Result<std::shared_ptr<grpc::ChannelCredentials>> credentials = make_credentials(options.tls);
  if (!credentials.is_ok()) return credentials.status();
  EtcdShared shared{options, control, make_value(options.value_size, options.seed),
                    std::move(credentials).value()};
  return std::unique_ptr<PhaseThreads>(
      std::make_unique<EtcdPhase>(std::move(shared), spec, stats));
}

}  // namespace raftkv::bench
