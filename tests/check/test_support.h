#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/lincheck.h"

// Helpers for the checker's tests: terse builders for hand-made histories, a reference store
// written independently of the checker's model, histories generated from real sequential
// executions, and a brute-force checker to compare verdicts with on small histories.
namespace raftkv::lincheck::testing {

Command get(std::string key);
Command set(std::string key, std::string value);
Command del(std::vector<std::string> keys);
Command incr(std::string key);
Command incrby(std::string key, int64_t delta);
Command append(std::string key, std::string suffix);
Command cas(std::string key, std::string expected, std::string desired);
Command casnx(std::string key, std::string desired);
Command mget(std::vector<std::string> keys);
Command txn(std::vector<Command> steps);

Reply str(std::string text);
Reply nil();
Reply num(int64_t value);
Reply list(std::vector<Reply> elements);
Reply ok_reply();  // "OK"

// Appends operations with ids 1, 2, 3... in call order.
class HistoryBuilder {
 public:
  HistoryBuilder& ok(int64_t client, int64_t invoke_us, int64_t return_us, Command command,
                     Reply result);
  HistoryBuilder& fail(int64_t client, int64_t invoke_us, int64_t return_us, Command command);
  HistoryBuilder& unknown(int64_t client, int64_t invoke_us, Command command);
  [[nodiscard]] const History& history() const { return history_; }

 private:
  HistoryBuilder& add(Operation op);
  History history_;
};

// check() with the given options; fails the test (and returns Undecided) on an error.
Verdict check_ok(const History& history, const Options& options = {});

// A plain map-based store with the README's semantics; the oracle the generated histories and
// the brute-force checker use. nullopt: the command errors (incr of a non-integer); as in
// Redis, a txn's other steps still apply.
class ReferenceStore {
 public:
  std::optional<Reply> execute(const Command& command);
  // The value `key` holds, if any.
  [[nodiscard]] std::optional<std::string> value(const std::string& key) const;

 private:
  std::optional<Reply> execute_one(const Command& command);
  std::map<std::string, std::string> data_;
};

struct RandomHistoryOptions {
  uint64_t seed = 1;
  size_t clients = 10;
  size_t operations = 1000;
  size_t keys = 6;                 // Split into registers, append lists and counters.
  double unknown_fraction = 0.03;  // Half of them take effect, half never do.
  double fail_fraction = 0.02;
  bool multi_key = true;           // Also mget, multi-key del and txns across keys.
  int64_t duration_us_max = 100;   // An operation's length; longer: more overlap.
  // Every command on every key, values from a tiny alphabet: coincidences (equal values,
  // equal lengths, incr of a non-integer) become common. Values are no longer unique.
  bool mixed = false;
};

// Linearizable by construction: each client runs one operation at a time; every operation
// takes effect at a random instant inside its interval, in that order, on a ReferenceStore,
// and records what the store answered. One that would answer an error is recorded as fail
// and not applied (the format has no way to record an error inside a txn's results).
History random_history(const RandomHistoryOptions& options);

// Decides linearizability by trying every subset of the unknown operations in every order
// that respects real time, replayed on a ReferenceStore. For a handful of operations only.
bool brute_force_linearizable(const History& history);

}  // namespace raftkv::lincheck::testing
