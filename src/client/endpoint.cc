#include "client/endpoint.h"

#include <algorithm>
#include <charconv>

namespace raftkv::client {

Result<Endpoint> parse_endpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  const std::string_view host = colon == std::string_view::npos ? "127.0.0.1"
                                                                : text.substr(0, colon);
  const std::string_view port_text =
      colon == std::string_view::npos ? text : text.substr(colon + 1);
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (host.empty() || port_text.empty() || ec != std::errc() || ptr != end || port == 0 ||
      port > 65535) {
    return Status(ErrorCode::InvalidArgument,
                  "bad endpoint '" + std::string(text) + "' (want host:port)");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(port)};
}

Result<std::vector<Endpoint>> parse_endpoints(std::string_view text) {
  std::vector<Endpoint> endpoints;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    Result<Endpoint> endpoint = parse_endpoint(item);
    if (!endpoint.is_ok()) return endpoint.status();
    if (std::find(endpoints.begin(), endpoints.end(), endpoint.value()) == endpoints.end()) {
      endpoints.push_back(std::move(endpoint).value());
    }
  }
  if (endpoints.empty()) {
    return Status(ErrorCode::InvalidArgument, "no endpoints in '" + std::string(text) + "'");
  }
  return endpoints;
}

std::string join_endpoints(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const Endpoint& endpoint : endpoints) {
    if (!out.empty()) out += ",";
    out += endpoint.to_string();
  }
  return out;
}

}  // namespace raftkv::client
