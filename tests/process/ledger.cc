#include "ledger.h"

#include "client/errors.h"
#include "common/assert.h"

namespace raftkv::process_test {

const char* write_fate_name(WriteFate fate) {
  switch (fate) {
    case WriteFate::Acknowledged: return "acknowledged";
    case WriteFate::NotApplied: return "not applied";
    case WriteFate::Unknown: return "unknown";
  }
  return "?";
}

WriteFate fate_of(const client::Outcome& outcome) {
  switch (outcome.kind) {
    case client::OutcomeKind::Ok: return WriteFate::Acknowledged;
    case client::OutcomeKind::Unknown: return WriteFate::Unknown;
    case client::OutcomeKind::Error:
    case client::OutcomeKind::Unavailable:
    case client::OutcomeKind::SessionExpired: return WriteFate::NotApplied;
  }
  return WriteFate::Unknown;
}

WriteFate fate_of(const Result<std::vector<client::Reply>>& exchange) {
  if (!exchange.is_ok()) return WriteFate::Unknown;
  RAFT_ASSERT(exchange.value().size() == 1);
  return fate_of(exchange.value().front());
}

WriteFate fate_of(const client::Reply& reply) {
  if (!reply.is_error()) return WriteFate::Acknowledged;
  switch (client::classify_error(reply.text)) {
    case client::ErrorClass::Application:
    case client::ErrorClass::NotApplied:
    case client::ErrorClass::SessionExpired: return WriteFate::NotApplied;
    case client::ErrorClass::Ambiguous: return WriteFate::Unknown;
  }
  return WriteFate::Unknown;
}

std::string TokenLedger::next_token() const {
  return prefix_ + std::to_string(fates_.size()) + ";";
}

void TokenLedger::record(const std::string& token, WriteFate fate) {
  RAFT_ASSERT(token.starts_with(prefix_) && token.ends_with(";"));
  const bool fresh = fates_.emplace(token, fate).second;
  RAFT_ASSERT(fresh);  // A token names one write.
}

std::map<std::string, int> TokenLedger::occurrences(std::string_view value) const {
  std::map<std::string, int> counts;
  size_t start = 0;
  for (size_t end = value.find(';'); end != std::string_view::npos;
       start = end + 1, end = value.find(';', start)) {
    const std::string_view token = value.substr(start, end + 1 - start);
    if (token.starts_with(prefix_)) ++counts[std::string(token)];
  }
  return counts;
}

std::string TokenLedger::check(std::string_view value, bool acked_may_repeat) const {
  const std::map<std::string, int> found = occurrences(value);
  std::string problems;
  for (const auto& [token, count] : found) {
    if (!fates_.contains(token)) problems += token + " present but never sent\n";
  }
  for (const auto& [token, fate] : fates_) {
    const auto at = found.find(token);
    const int count = at == found.end() ? 0 : at->second;
    const bool right = fate == WriteFate::Acknowledged
                           ? (acked_may_repeat ? count >= 1 : count == 1)
                           : (fate == WriteFate::NotApplied ? count == 0 : count <= 1);
    if (!right) {
      problems += token + " " + write_fate_name(fate) + " but present " +
                  std::to_string(count) + " times\n";
    }
  }
  return problems;
}

TokenLedger::Tally TokenLedger::tally(std::string_view value) const {
  const std::map<std::string, int> found = occurrences(value);
  Tally out;
  for (const auto& [token, fate] : fates_) {
    out.acknowledged += fate == WriteFate::Acknowledged ? 1 : 0;
    out.not_applied += fate == WriteFate::NotApplied ? 1 : 0;
    if (fate == WriteFate::Unknown) {
      ++out.unknown;
      out.unknown_present += found.contains(token) ? 1 : 0;
    }
  }
  return out;
}

}  // namespace raftkv::process_test
