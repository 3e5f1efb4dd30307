#include "run.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <latch>
#include <thread>

#include "common/assert.h"

namespace raftkv::bench {
namespace {

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);  // Set from a signal handler.

int64_t seconds_to_ns(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void request_interrupt() { g_interrupted.store(true, std::memory_order_relaxed); }
bool interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

// ---- RunControl ------------------------------------------------------------------------------

void RunControl::begin(int64_t start_ns) {
  RAFT_ASSERT(start_ns > 0);
  RAFT_ASSERT(start_ns_ == 0);  // Once.
  start_ns_ = start_ns;
  measure_start_ns_ = start_ns + seconds_to_ns(plan_.warmup_s);
  end_ns_ = ops_mode() ? INT64_MAX : measure_start_ns_ + seconds_to_ns(plan_.duration_s);
  last_ack_ns_.store(measure_start_ns_, std::memory_order_relaxed);
  RAFT_ASSERT(end_ns_ > measure_start_ns_);
}

bool RunControl::claim(uint64_t* ticket) {
  RAFT_ASSERT(ops_mode());
  // Bounded: once past ops_max every caller gets false, and the counter grows by at most one
  // per client after that (each client stops on its first false).
  const uint64_t n = tickets_.fetch_add(1, std::memory_order_relaxed);
  if (n >= plan_.ops_max) return false;
  *ticket = n;
  return true;
}

void RunControl::note_ack(int64_t now_ns) {
  if (now_ns < measure_start_ns_ || now_ns > end_ns_) return;
  int64_t last = last_ack_ns_.load(std::memory_order_relaxed);
  // Only move forward: acks handled on other threads may carry slightly older timestamps.
  while (now_ns > last) {
    if (last_ack_ns_.compare_exchange_weak(last, now_ns, std::memory_order_relaxed)) {
      const int64_t gap = now_ns - last;
      int64_t max = max_gap_ns_.load(std::memory_order_relaxed);
      while (gap > max &&
             !max_gap_ns_.compare_exchange_weak(max, gap, std::memory_order_relaxed)) {
      }
      return;
    }
  }
}

int64_t RunControl::max_ack_gap_ns(int64_t end_ns) const {
  const int64_t last = last_ack_ns();
  const int64_t tail = std::max<int64_t>(0, end_ns - last);
  return std::max(max_gap_ns_.load(std::memory_order_relaxed), tail);
}

// ---- ThreadStats -----------------------------------------------------------------------------

void ThreadStats::record_ack(OpKind kind, bool measured, int64_t latency_ns) {
  bump(acks_);
  if (!measured) return;
  latency_.record(static_cast<uint64_t>(std::max<int64_t>(latency_ns, 0)));
  bump(ops_);
  bump(kind == OpKind::Read ? reads_ : writes_);
}

void ThreadStats::record_error(bool measured, std::string_view text, int64_t now_ns) {
  if (!measured) return;
  bump(errors_);
  if (first_error_.empty()) {
    first_error_ = std::string(text.substr(0, 200));
    first_error_ns_ = now_ns;
  }
}

void ThreadStats::record_retry(bool measured) {
  if (measured) bump(retries_);
}

void ThreadStats::note_failure(std::string text) {
  last_failure_ = std::move(text);
  ++failures_;
}

void ThreadStats::publish() {
  std::lock_guard lock(published_mutex_);
  published_.reset();
  published_.merge(latency_);
}

Counters ThreadStats::counters() const {
  Counters c;
  c.ops = ops_.load(std::memory_order_relaxed);
  c.reads = reads_.load(std::memory_order_relaxed);
  c.writes = writes_.load(std::memory_order_relaxed);
  c.errors = errors_.load(std::memory_order_relaxed);
  c.retries = retries_.load(std::memory_order_relaxed);
  c.acks = acks_.load(std::memory_order_relaxed);
  return c;
}

void ThreadStats::snapshot(LatencyHistogram* into) const {
  RAFT_ASSERT(into != nullptr);
  std::lock_guard lock(published_mutex_);
  into->merge(published_);
}

// ---- ClientCore ------------------------------------------------------------------------------

ClientCore::ClientCore(uint32_t index, const WorkloadSpec& spec, int64_t interval_ns,
                       int64_t offset_ns, RunControl& control, ThreadStats& stats)
    : index_(index),
      workload_(spec, index),
      interval_ns_(interval_ns),
      offset_ns_(offset_ns),
      control_(control),
      stats_(stats) {
  RAFT_ASSERT(interval_ns >= 0);
  RAFT_ASSERT(offset_ns >= 0);
  if (interval_ns > 0) RAFT_ASSERT(offset_ns < interval_ns);
}

ClientCore ClientCore::scheduled(uint32_t index, uint32_t clients, double rate_ops_per_s,
                                 const WorkloadSpec& spec, RunControl& control,
                                 ThreadStats& stats) {
  if (rate_ops_per_s <= 0) return ClientCore(index, spec, 0, 0, control, stats);
  const auto interval_ns =
      static_cast<int64_t>(static_cast<double>(clients) * 1e9 / rate_ops_per_s);
  const auto offset_ns = std::min(
      static_cast<int64_t>(static_cast<double>(index) * 1e9 / rate_ops_per_s), interval_ns - 1);
  return ClientCore(index, spec, interval_ns, offset_ns, control, stats);
}

ClientCore::Next ClientCore::plan(int64_t now_ns, int64_t* due_ns) {
  RAFT_ASSERT(due_ns != nullptr);
  if (control_.stop_requested() || now_ns >= control_.end_ns()) return Next::Stop;
  int64_t start = now_ns;
  if (interval_ns_ > 0) {
    if (next_due_ns_ < 0) next_due_ns_ = control_.start_ns() + offset_ns_;
    if (next_due_ns_ >= control_.end_ns()) return Next::Stop;
    if (next_due_ns_ > now_ns) {
      *due_ns = next_due_ns_;
      return Next::Wait;
    }
    start = next_due_ns_;
    next_due_ns_ += interval_ns_;
  }
  const bool measured = control_.measured(start);
  uint64_t ticket = 0;
  if (measured && control_.ops_mode() && !control_.claim(&ticket)) return Next::Stop;
  op_ = workload_.next(ticket);
  op_start_ns_ = start;
  op_measured_ = measured;
  attempts_ = 1;
  return Next::Send;
}

void ClientCore::acknowledged(int64_t now_ns) {
  RAFT_ASSERT(attempts_ > 0);
  const bool counted = op_measured_ && now_ns <= control_.end_ns();
  stats_.record_ack(op_.kind, counted, now_ns - op_start_ns_);
  control_.note_ack(now_ns);
  attempts_ = 0;
}

void ClientCore::failed(int64_t now_ns, std::string_view error) {
  RAFT_ASSERT(attempts_ > 0);
  stats_.record_error(op_measured_ && now_ns <= control_.end_ns(), error, now_ns);
  attempts_ = 0;
}

int64_t ClientCore::retry(bool backoff) {
  RAFT_ASSERT(attempts_ > 0);
  stats_.record_retry(op_measured_);
  const uint32_t step = std::min<uint32_t>(attempts_, 5);  // Bounds the shift.
  ++attempts_;
  if (!backoff) return 0;
  const int64_t backoff_ms = std::min<int64_t>(int64_t{1} << (step - 1), 10);
  return backoff_ms * 1'000'000;
}

// ---- run_phase -------------------------------------------------------------------------------

namespace {

void print_progress(const RunControl& control, const std::vector<ThreadStats>& stats,
                    const ProgressOptions& progress, int64_t now, uint64_t* last_acks) {
  Counters total;
  LatencyHistogram latency = LatencyHistogram::for_latency_ns();
  for (const ThreadStats& s : stats) {
    const Counters c = s.counters();
    total.ops += c.ops;
    total.errors += c.errors;
    total.retries += c.retries;
    total.acks += c.acks;
    s.snapshot(&latency);
  }
  const double elapsed_s = static_cast<double>(now - control.start_ns()) / 1e9;
  const uint64_t per_second = total.acks - *last_acks;
  *last_acks = total.acks;
  const char* warmup = now < control.measure_start_ns() ? " (warmup)" : "";
  std::string done;
  if (progress.ops_total > 0) {
    done = "  " + std::to_string(total.acks) + "/" + std::to_string(progress.ops_total);
  }
  std::fprintf(stderr,
               "raftkv-bench: %s%s%6.1f s  %8" PRIu64 " ops/s  p99 %.3f ms  errors %" PRIu64
               "  retries %" PRIu64 "%s%s\n",
               progress.phase, *progress.phase ? " " : "", elapsed_s, per_second,
               static_cast<double>(latency.value_at_percentile(99)) / 1e6, total.errors,
               total.retries, done.c_str(), warmup);
}

PhaseResult merge_results(const RunControl& control, const std::vector<ThreadStats>& stats,
                          int64_t stopped_ns) {
  PhaseResult result;
  int64_t first_error_ns = INT64_MAX;
  for (const ThreadStats& s : stats) {
    const Counters c = s.counters();
    result.counters.ops += c.ops;
    result.counters.reads += c.reads;
    result.counters.writes += c.writes;
    result.counters.errors += c.errors;
    result.counters.retries += c.retries;
    result.counters.acks += c.acks;
    result.latency.merge(s.latency());
    result.failures += s.failures();
    if (!s.last_failure().empty()) result.last_failure = s.last_failure();
    if (!s.first_error().empty() && s.first_error_ns() < first_error_ns) {
      first_error_ns = s.first_error_ns();
      result.first_error = s.first_error();
    }
  }
  // Stopped early (signal, stall): the period ends there. Otherwise ops mode ends with the last
  // ack, duration mode at its end time (open-loop clients may all finish a little before it:
  // the period is still whole).
  int64_t end = control.end_ns();
  if (control.stop_requested()) {
    end = std::min(end, stopped_ns);
  } else if (control.ops_mode()) {
    end = control.last_ack_ns();
  }
  end = std::max(end, control.measure_start_ns());
  result.measured_ns = end - control.measure_start_ns();
  result.max_ack_gap_ns = control.max_ack_gap_ns(end);
  return result;
}

}  // namespace

PhaseResult run_phase(PhaseThreads& threads, uint32_t thread_count, RunControl& control,
                      std::vector<ThreadStats>& stats, const ProgressOptions& progress) {
  RAFT_ASSERT(thread_count >= 1);
  RAFT_ASSERT(stats.size() == thread_count);
  std::latch connected(thread_count);
  std::latch go(1);
  std::atomic<uint32_t> running{thread_count};
  std::vector<std::thread> workers;
  workers.reserve(thread_count);
  for (uint32_t t = 0; t < thread_count; ++t) {
    workers.emplace_back([&, t] {
      threads.connect(t);
      connected.count_down();
      go.wait();
      threads.run(t);
      stats[t].publish();
      running.fetch_sub(1, std::memory_order_release);
    });
  }
  connected.wait();
  control.begin(now_ns());
  go.count_down();

  uint64_t last_acks = 0;
  int64_t next_print = control.start_ns() + 1'000'000'000;
  while (running.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t now = now_ns();
    if (control.ops_mode() && now - std::max(control.last_ack_ns(), control.start_ns()) >
                                  kStallNs) {
      control.request_stop();  // Nothing acknowledged for long: the cluster is not serving.
    }
    if (now >= next_print) {
      if (!progress.quiet) print_progress(control, stats, progress, now, &last_acks);
      next_print += 1'000'000'000;
    }
  }
  const int64_t stopped = now_ns();
  for (std::thread& worker : workers) worker.join();
  PhaseResult result = merge_results(control, stats, stopped);
  result.stalled = control.ops_mode() && control.stop_requested() && !interrupted();
  return result;
}

}  // namespace raftkv::bench
