#include "client/info.h"

#include <charconv>

namespace raftkv::client {
namespace {

bool parse_u64(std::string_view text, uint64_t* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return !text.empty() && ec == std::errc() && ptr == end;
}

// "1@127.0.0.1:6381,2@127.0.0.1:6382" (an id without "@addr" is allowed).
bool parse_members(std::string_view text, std::vector<MemberInfo>* members) {
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    const size_t at = item.find('@');
    MemberInfo member;
    if (!parse_u64(item.substr(0, at), &member.id)) return false;
    if (at != std::string_view::npos) member.client_addr = std::string(item.substr(at + 1));
    members->push_back(std::move(member));
  }
  return true;
}

// `tls_members` collects the "tls_members" line, merged into info->members at the end.
bool set_field(std::string_view key, std::string_view value, RaftInfo* info,
               std::vector<MemberInfo>* tls_members) {
  if (key == "role") {
    info->role = std::string(value);
    return !value.empty();
  }
  if (key == "leader_addr" || key == "leader_tls_addr") {
    (key == "leader_addr" ? info->leader_addr : info->leader_tls_addr) = std::string(value);
    return true;
  }
  if (key == "members") return parse_members(value, &info->members);
  if (key == "tls_members") return parse_members(value, tls_members);
  uint64_t* number = key == "node_id"          ? &info->node_id
                     : key == "term"           ? &info->term
                     : key == "leader_id"      ? &info->leader_id
                     : key == "commit_index"   ? &info->commit_index
                     : key == "applied_index"  ? &info->applied_index
                     : key == "last_log_index" ? &info->last_log_index
                                               : nullptr;
  return number == nullptr || parse_u64(value, number);  // Unknown keys are ignored.
}

}  // namespace

Result<RaftInfo> parse_info(std::string_view text) {
  RaftInfo info;
  std::vector<MemberInfo> tls_members;
  bool have_term = false;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) newline = text.size();
    std::string_view line = text.substr(start, newline - start);
    start = newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (line.empty() || line.front() == '#' || colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    if (!set_field(key, value, &info, &tls_members)) {
      return Status(ErrorCode::InvalidArgument, "bad INFO line '" + std::string(line) + "'");
    }
    have_term = have_term || key == "term";
  }
  if (info.role.empty() || !have_term) {
    return Status(ErrorCode::InvalidArgument, "INFO reply has no Raft role and term");
  }
  for (const MemberInfo& tls : tls_members) {
    for (MemberInfo& member : info.members) {
      if (member.id == tls.id) member.tls_addr = tls.client_addr;
    }
  }
  return info;
}

}  // namespace raftkv::client
