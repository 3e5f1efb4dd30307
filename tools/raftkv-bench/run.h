#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.h"
#include "workload.h"

// The target-independent half of a run: the clock and stop rules shared by all threads
// (RunControl), per-thread counters and latencies (ThreadStats), one client's closed- or
// open-loop schedule with its retries (ClientCore), and the phase runner that starts the
// driver's threads, prints progress and merges the results (run_phase).
//
// Threads: the driver runs T event-loop threads; every client and connection belongs to one of
// them. RunControl is shared (atomics); a ThreadStats is written by its thread only and read by
// the progress printer through atomics and a mutex-guarded snapshot.

namespace raftkv::bench {

// steady_clock in nanoseconds: every timestamp of a run.
[[nodiscard]] int64_t now_ns();

// SIGINT/SIGTERM: every phase stops as soon as its threads notice (within ~100 ms).
void request_interrupt();
[[nodiscard]] bool interrupted();

struct PhasePlan {
  double warmup_s = 0;
  double duration_s = 10;  // Ignored when ops_max > 0.
  uint64_t ops_max = 0;    // > 0: stop once this many measured ops were handed out.
};

// Clock and stop rules of one phase, shared by all threads. begin() is called once, by the
// main thread, before any client starts; everything else is thread-safe.
class RunControl {
 public:
  explicit RunControl(PhasePlan plan) : plan_(plan) {}

  void begin(int64_t start_ns);
  [[nodiscard]] int64_t start_ns() const { return start_ns_; }
  [[nodiscard]] int64_t measure_start_ns() const { return measure_start_ns_; }
  // End of the measured period; INT64_MAX in ops mode (the run ends when the ops are done).
  [[nodiscard]] int64_t end_ns() const { return end_ns_; }
  [[nodiscard]] bool ops_mode() const { return plan_.ops_max > 0; }

  // An op whose (scheduled) start is at start_ns is measured iff it starts after the warmup.
  [[nodiscard]] bool measured(int64_t start_ns) const { return start_ns >= measure_start_ns_; }
  // Ops mode: hands out measured op numbers 0..ops_max-1 once each; false when none remain.
  [[nodiscard]] bool claim(uint64_t* ticket);

  // A successful acknowledgement at now_ns (measured op or not): tracks the longest interval
  // of the measured period in which nothing was acknowledged.
  void note_ack(int64_t now_ns);
  [[nodiscard]] int64_t last_ack_ns() const { return last_ack_ns_.load(std::memory_order_relaxed); }
  // The longest ack-free interval in [measure_start, end_ns], counting the tail up to end_ns.
  [[nodiscard]] int64_t max_ack_gap_ns(int64_t end_ns) const;

  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool stop_requested() const {
    return stop_.load(std::memory_order_relaxed) || interrupted();
  }

 private:
  PhasePlan plan_;
  int64_t start_ns_ = 0;
  int64_t measure_start_ns_ = 0;
  int64_t end_ns_ = INT64_MAX;
  std::atomic<uint64_t> tickets_{0};
  std::atomic<int64_t> last_ack_ns_{0};  // Latest ack seen, at least measure_start_ns_.
  std::atomic<int64_t> max_gap_ns_{0};
  std::atomic<bool> stop_{false};
};

// Counters of one thread, or of a whole phase once merged. Measured ops only, except acks.
struct Counters {
  uint64_t ops = 0;      // Acknowledged measured ops.
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t errors = 0;   // Measured ops answered with an error that is not retried.
  uint64_t retries = 0;  // Re-sends of measured ops (TRYAGAIN, lost connection).
  uint64_t acks = 0;     // Every acknowledged op, warmup included (progress line).
};

// One thread's results. Written by its thread only; counters() and snapshot() may be called
// from any thread while it runs.
class ThreadStats {
 public:
  ThreadStats() : latency_(LatencyHistogram::for_latency_ns()),
                  published_(LatencyHistogram::for_latency_ns()) {}

  void record_ack(OpKind kind, bool measured, int64_t latency_ns);
  void record_error(bool measured, std::string_view text, int64_t now_ns);
  void record_retry(bool measured);
  // A connection (or channel) failed and moved on: kept to explain a run with no ops.
  void note_failure(std::string text);
  // Owner thread: makes the latencies so far visible to snapshot().
  void publish();

  [[nodiscard]] Counters counters() const;
  // Any thread: merges the last published latencies into *into.
  void snapshot(LatencyHistogram* into) const;

  // After the thread has ended.
  [[nodiscard]] const LatencyHistogram& latency() const { return latency_; }
  [[nodiscard]] const std::string& first_error() const { return first_error_; }
  [[nodiscard]] int64_t first_error_ns() const { return first_error_ns_; }
  [[nodiscard]] const std::string& last_failure() const { return last_failure_; }
  [[nodiscard]] uint64_t failures() const { return failures_; }

 private:
  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  LatencyHistogram latency_;
  std::atomic<uint64_t> ops_{0}, reads_{0}, writes_{0}, errors_{0}, retries_{0}, acks_{0};
  std::string first_error_;
  int64_t first_error_ns_ = INT64_MAX;
  std::string last_failure_;
  uint64_t failures_ = 0;
  mutable std::mutex published_mutex_;
  LatencyHistogram published_;  // Guarded by published_mutex_.
};

// One client's schedule and its current op; the driver owns the transport and the timers.
// Closed loop: the next op starts when the last one is acknowledged. Open loop (rate): op n is
// due at first_due + n * interval whether or not the server kept up; its latency counts from
// that due time, so a stalled server is charged for the ops it delayed (no coordinated
// omission). Not thread-safe: used by its driver thread only.
class ClientCore {
 public:
  enum class Next {
    Send,  // op() is a new op, its start time set: send it.
    Wait,  // Nothing due yet: call plan() again at *due_ns.
    Stop,  // The phase is over for this client.
  };

  // interval_ns: per-client open-loop interval (0 = closed loop); offset_ns: this client's
  // phase within it, so that the clients' schedules interleave evenly.
  ClientCore(uint32_t index, const WorkloadSpec& spec, int64_t interval_ns, int64_t offset_ns,
             RunControl& control, ThreadStats& stats);
  // Client `index` of `clients`: with a total rate, each sends every clients / rate seconds,
  // the clients' phases spread evenly over that interval; without one, closed loop.
  [[nodiscard]] static ClientCore scheduled(uint32_t index, uint32_t clients,
                                            double rate_ops_per_s, const WorkloadSpec& spec,
                                            RunControl& control, ThreadStats& stats);

  [[nodiscard]] Next plan(int64_t now_ns, int64_t* due_ns);

  [[nodiscard]] const Op& op() const { return op_; }
  [[nodiscard]] uint32_t index() const { return index_; }
  [[nodiscard]] uint32_t attempts() const { return attempts_; }

  // The current op was acknowledged at now_ns.
  void acknowledged(int64_t now_ns);
  // The current op got an error that is not retried: it counts as an error, not an op.
  void failed(int64_t now_ns, std::string_view error);
  // The current op must be sent again; counted as a retry. Returns the backoff before the
  // re-send: 0 for a moved connection, else 1, 2, 4, 8, 10, 10... ms for repeated TRYAGAINs.
  [[nodiscard]] int64_t retry(bool backoff);

 private:
  uint32_t index_;
  Workload workload_;
  int64_t interval_ns_;
  int64_t offset_ns_;
  RunControl& control_;
  ThreadStats& stats_;
  int64_t next_due_ns_ = -1;  // Open loop: due time of the next op; -1 before the first.
  Op op_;
  int64_t op_start_ns_ = 0;   // First send (closed loop) or due time (open loop).
  bool op_measured_ = false;
  uint32_t attempts_ = 0;
};

// A phase's merged outcome.
struct PhaseResult {
  Counters counters;
  LatencyHistogram latency = LatencyHistogram::for_latency_ns();
  std::string first_error;
  std::string last_failure;    // The last connection failure of any thread ("" if none).
  uint64_t failures = 0;       // Connection failures (each moved to the next endpoint).
  int64_t measured_ns = 0;     // Length of the measured period actually run.
  int64_t max_ack_gap_ns = 0;
  bool stalled = false;        // Ops mode: gave up after nothing was acknowledged for long.
};

// What a target must provide to run_phase. Thread t runs connect(t) (blocking, bounded: open
// the connections before the clock starts), then, once every thread connected and the phase
// began, run(t) until its clients stopped, the end time passed or a stop was requested. run(t)
// must call stats.publish() every ~250 ms.
class PhaseThreads {
 public:
  virtual ~PhaseThreads() = default;
  virtual void connect(uint32_t thread) = 0;
  virtual void run(uint32_t thread) = 0;
};

struct ProgressOptions {
  bool quiet = false;
  const char* phase = "";  // "prefill" or "" (measured run).
  uint64_t ops_total = 0;  // For "n/total" in the line (prefill); 0 = none.
};

// Runs the driver's threads for one phase, printing a progress line to stderr every second
// unless quiet, and merges the threads' stats. In ops mode gives up (stalled) if nothing is
// acknowledged for stall_ns.
[[nodiscard]] PhaseResult run_phase(PhaseThreads& threads, uint32_t thread_count,
                                    RunControl& control, std::vector<ThreadStats>& stats,
                                    const ProgressOptions& progress);

inline constexpr int64_t kStallNs = 30'000'000'000;  // Ops mode: no ack for 30 s: give up.
inline constexpr int64_t kPublishNs = 250'000'000;   // ThreadStats::publish() period.

}  // namespace raftkv::bench
