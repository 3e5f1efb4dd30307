#include "client/admin.h"

namespace raftkv::client {

Result<std::vector<MemberRecord>> parse_member_list(const Reply& reply) {
  const auto bad = [](const std::string& why) {
    return Status(ErrorCode::InvalidArgument, "RAFT.MEMBER LIST: " + why);
  };
  if (reply.is_error()) return bad(reply.text);
  if (reply.type != ReplyType::Array) return bad("not an array");
  std::vector<MemberRecord> out;
  for (const Reply& row : reply.elements) {
    const bool well_formed = row.type == ReplyType::Array && row.elements.size() == 4 &&
                             row.elements[0].type == ReplyType::Integer &&
                             row.elements[0].integer > 0 &&
                             row.elements[1].type == ReplyType::Bulk &&
                             row.elements[2].type == ReplyType::Bulk &&
                             row.elements[3].type == ReplyType::Bulk;
    if (!well_formed) return bad("a row is not [id, peer_addr, client_addr, role]");
    const std::string& role = row.elements[3].text;
    if (role != "voter" && role != "learner") return bad("unknown role '" + role + "'");
    out.push_back({.id = static_cast<uint64_t>(row.elements[0].integer),
                   .peer_addr = row.elements[1].text,
                   .client_addr = row.elements[2].text,
                   .learner = role == "learner"});
  }
  return out;
}

}  // namespace raftkv::client
