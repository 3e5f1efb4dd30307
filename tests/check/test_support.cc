#include "check/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <utility>

namespace raftkv::lincheck::testing {

Command get(std::string key) { return {CommandKind::Get, {std::move(key)}, {}}; }
Command set(std::string key, std::string value) {
  return {CommandKind::Set, {std::move(key), std::move(value)}, {}};
}
Command del(std::vector<std::string> keys) { return {CommandKind::Del, std::move(keys), {}}; }
Command incr(std::string key) { return {CommandKind::Incr, {std::move(key)}, {}}; }
Command incrby(std::string key, int64_t delta) {
  return {CommandKind::IncrBy, {std::move(key), std::to_string(delta)}, {}};
}
Command append(std::string key, std::string suffix) {
  return {CommandKind::Append, {std::move(key), std::move(suffix)}, {}};
}
Command cas(std::string key, std::string expected, std::string desired) {
  return {CommandKind::Cas, {std::move(key), std::move(expected), std::move(desired)}, {}};
}
Command casnx(std::string key, std::string desired) {
  return {CommandKind::CasNx, {std::move(key), std::move(desired)}, {}};
}
Command mget(std::vector<std::string> keys) { return {CommandKind::MGet, std::move(keys), {}}; }
Command txn(std::vector<Command> steps) { return {CommandKind::Txn, {}, std::move(steps)}; }

Reply str(std::string text) { return Reply::string(std::move(text)); }
Reply nil() { return Reply::nil(); }
Reply num(int64_t value) { return Reply::integer_value(value); }
Reply list(std::vector<Reply> elements) { return Reply::array(std::move(elements)); }
Reply ok_reply() { return Reply::string("OK"); }

HistoryBuilder& HistoryBuilder::add(Operation op) {
  op.id = static_cast<int64_t>(history_.operations.size()) + 1;
  history_.operations.push_back(std::move(op));
  return *this;
}

HistoryBuilder& HistoryBuilder::ok(int64_t client, int64_t invoke_us, int64_t return_us,
                                   Command command, Reply result) {
  return add({0, client, std::move(command), invoke_us, return_us, Outcome::Ok,
              std::move(result)});
}

HistoryBuilder& HistoryBuilder::fail(int64_t client, int64_t invoke_us, int64_t return_us,
                                     Command command) {
  return add({0, client, std::move(command), invoke_us, return_us, Outcome::Fail, {}});
}

HistoryBuilder& HistoryBuilder::unknown(int64_t client, int64_t invoke_us, Command command) {
  return add({0, client, std::move(command), invoke_us, std::nullopt, Outcome::Unknown, {}});
}

Verdict check_ok(const History& history, const Options& options) {
  Result<Verdict> verdict = check(history, options);
  EXPECT_TRUE(verdict.is_ok()) << (verdict.is_ok() ? "" : verdict.status().to_string());
  return verdict.is_ok() ? std::move(verdict).value() : Verdict{};
}

namespace {

// Redis' integer syntax, written out separately from the checker's (which uses the server's).
std::optional<int64_t> strict_integer(const std::string& text) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::string digits = negative ? text.substr(1) : text;
  if (digits.empty() || (digits[0] == '0' && (digits.size() > 1 || negative))) return std::nullopt;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> ReferenceStore::value(const std::string& key) const {
  const auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::optional<Reply> ReferenceStore::execute(const Command& command) {
  if (command.kind != CommandKind::Txn) return execute_one(command);
  std::vector<Reply> replies;
  bool failed = false;
  for (const Command& step : command.steps) {
    std::optional<Reply> reply = execute_one(step);
    failed = failed || !reply;  // The other steps still apply, as in Redis.
    replies.push_back(reply.value_or(Reply::nil()));
  }
  if (failed) return std::nullopt;
  return Reply::array(std::move(replies));
}

std::optional<Reply> ReferenceStore::execute_one(const Command& command) {
  const std::vector<std::string>& args = command.args;
  const auto current = [&](size_t i) { return value(args[i]); };
  switch (command.kind) {
    case CommandKind::Get: return current(0) ? str(*current(0)) : nil();
    case CommandKind::Set: data_[args[0]] = args[1]; return ok_reply();
    case CommandKind::Del: {
      int64_t removed = 0;
      for (const std::string& key : args) removed += static_cast<int64_t>(data_.erase(key));
      return num(removed);
    }
    case CommandKind::Incr:
    case CommandKind::IncrBy: {
      const std::optional<int64_t> old = current(0) ? strict_integer(*current(0)) : 0;
      const int64_t delta = command.kind == CommandKind::Incr ? 1 : *strict_integer(args[1]);
      int64_t sum = 0;
      if (!old || __builtin_add_overflow(*old, delta, &sum)) return std::nullopt;
      data_[args[0]] = std::to_string(sum);
      return num(sum);
    }
    case CommandKind::Append:
      data_[args[0]] += args[1];
      return num(static_cast<int64_t>(data_[args[0]].size()));
    case CommandKind::Cas:
      if (current(0) != args[1]) return num(0);
      data_[args[0]] = args[2];
      return num(1);
    case CommandKind::CasNx:
      if (current(0)) return num(0);
      data_[args[0]] = args[1];
      return num(1);
    case CommandKind::MGet: {
      std::vector<Reply> values;
      for (size_t i = 0; i < args.size(); ++i) {
        values.push_back(current(i) ? str(*current(i)) : nil());
      }
      return list(std::move(values));
    }
    case CommandKind::Txn: break;
  }
  ADD_FAILURE() << "nested txn";
  return std::nullopt;
}

namespace {

class Generator {
 public:
  explicit Generator(const RandomHistoryOptions& options) : options_(options), rng_(options.seed) {}

  History run() {
    History history;
    for (const Planned& planned : plan()) history.operations.push_back(execute(planned));
    return history;
  }

 private:
  struct Planned {
    int64_t client;
    int64_t invoke_us;
    int64_t effect_us;  // The instant it takes effect, inside [invoke, return].
    int64_t return_us;
  };

  int64_t uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double chance() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  // Every client's operations back to back, in the order they take effect.
  std::vector<Planned> plan() {
    std::vector<Planned> planned;
    const size_t per_client = std::max<size_t>(1, options_.operations / options_.clients);
    for (size_t client = 0; client < options_.clients; ++client) {
      int64_t now = uniform(0, 50);
      for (size_t i = 0; i < per_client; ++i) {
        const int64_t invoke = now + uniform(0, 20);
        const int64_t duration = uniform(1, options_.duration_us_max);
        const int64_t effect = invoke + uniform(0, duration);
        planned.push_back({static_cast<int64_t>(client), invoke, effect, invoke + duration});
        now = invoke + duration;
      }
    }
    std::sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) {
      return std::tie(a.effect_us, a.client) < std::tie(b.effect_us, b.client);
    });
    return planned;
  }

  Operation execute(const Planned& planned) {
    Operation op;
    op.id = ++last_id_;
    op.client = planned.client;
    op.invoke_us = planned.invoke_us;
    op.command = random_command();
    const double draw = chance();
    if (draw < options_.unknown_fraction) {
      op.outcome = Outcome::Unknown;
      if (chance() < 0.5) (void)store_.execute(op.command);  // Took effect after all.
      return op;
    }
    op.return_us = planned.return_us;
    op.outcome = Outcome::Fail;
    if (draw < options_.unknown_fraction + options_.fail_fraction) return op;
    ReferenceStore trial = store_;  // An error must leave no trace.
    std::optional<Reply> reply = trial.execute(op.command);
    if (!reply) return op;
    store_ = std::move(trial);
    op.outcome = Outcome::Ok;
    op.result = std::move(*reply);
    return op;
  }

  std::string key(size_t index) const {
    static constexpr const char* kPrefix[] = {"r", "l", "c"};  // register, list, counter
    return kPrefix[index % 3] + std::to_string(index);
  }

  size_t random_key() {
    return static_cast<size_t>(uniform(0, static_cast<int64_t>(options_.keys) - 1));
  }

  Command random_command() {
    const size_t index = random_key();
    if (!options_.multi_key || options_.keys < 2 || chance() >= 0.15) return single(index);
    const double draw = chance();
    if (draw < 0.4) return mget({key(index), key((index + 1) % options_.keys)});
    if (draw < 0.5 && options_.keys > 3) return del({key(index / 3 * 3), key(0)});
    std::vector<Command> steps;
    for (int64_t i = uniform(2, 3); i > 0; --i) steps.push_back(single(random_key()));
    return txn(std::move(steps));
  }

  // A command on one key, of a kind its class allows, with unique values written.
  Command single(size_t index) {
    if (options_.mixed) return mixed_single(index);
    const std::string k = key(index);
    const std::string fresh = "v" + std::to_string(++last_value_);
    const double draw = chance();
    switch (index % 3) {
      case 0:
        if (draw < 0.3) return get(k);
        if (draw < 0.6) return set(k, fresh);
        if (draw < 0.75) return cas(k, chance() < 0.6 ? store_.value(k).value_or("") : "v0", fresh);
        if (draw < 0.85) return casnx(k, fresh);
        return del({k});
      case 1: return draw < 0.4 ? get(k) : append(k, fresh + ";");
      default:
        if (draw < 0.4) return get(k);
        return draw < 0.8 ? incr(k) : incrby(k, uniform(-5, 5));
    }
  }

  // Any command on the key, with values from {"", "1", "2", "a", "bb"}.
  Command mixed_single(size_t index) {
    static constexpr const char* kValues[] = {"", "1", "2", "a", "bb"};
    const std::string k = key(index);
    const auto value = [this] { return std::string(kValues[uniform(0, 4)]); };
    switch (uniform(0, 7)) {
      case 0: return get(k);
      case 1: return set(k, value());
      case 2: return append(k, value());
      case 3: return incr(k);
      case 4: return incrby(k, uniform(-2, 2));
      case 5: return cas(k, chance() < 0.5 ? store_.value(k).value_or("") : value(), value());
      case 6: return casnx(k, value());
      default: return del({k});
    }
  }

  const RandomHistoryOptions& options_;
  std::mt19937_64 rng_;
  ReferenceStore store_;
  int64_t last_id_ = 0;
  uint64_t last_value_ = 0;
};

// Whether `order` (indices into history) respects real time and replays to the Ok results.
bool explains(const History& history, const std::vector<size_t>& order) {
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t j = i + 1; j < order.size(); ++j) {
      const Operation& later = history.operations[order[j]];
      if (later.return_us && *later.return_us < history.operations[order[i]].invoke_us) {
        return false;  // It returned before the earlier one was invoked.
      }
    }
  }
  ReferenceStore store;
  for (const size_t index : order) {
    const Operation& op = history.operations[index];
    const std::optional<Reply> reply = store.execute(op.command);
    if (op.outcome == Outcome::Ok && reply != op.result) return false;
  }
  return true;
}

}  // namespace

History random_history(const RandomHistoryOptions& options) {
  EXPECT_GE(options.keys, 1u);
  EXPECT_GE(options.clients, 1u);
  return Generator(options).run();
}

bool brute_force_linearizable(const History& history) {
  std::vector<size_t> ok;
  std::vector<size_t> unknown;
  for (size_t i = 0; i < history.operations.size(); ++i) {
    const Outcome outcome = history.operations[i].outcome;
    if (outcome == Outcome::Ok) ok.push_back(i);
    if (outcome == Outcome::Unknown) unknown.push_back(i);
  }
  EXPECT_LE(ok.size() + unknown.size(), 9u) << "too many operations for brute force";
  for (uint32_t mask = 0; mask < (1u << unknown.size()); ++mask) {
    std::vector<size_t> order = ok;
    for (size_t i = 0; i < unknown.size(); ++i) {
      if ((mask >> i & 1) != 0) order.push_back(unknown[i]);
    }
    std::sort(order.begin(), order.end());
    do {
      if (explains(history, order)) return true;
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return false;
}

}  // namespace raftkv::lincheck::testing
