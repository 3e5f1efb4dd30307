#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// Where a node listens for clients: "127.0.0.1:6381".

namespace raftkv::client {

struct Endpoint {
  std::string host;
  uint16_t port = 0;

  [[nodiscard]] std::string to_string() const { return host + ":" + std::to_string(port); }
  bool operator==(const Endpoint&) const = default;
};

// "host:port" -> Endpoint. InvalidArgument names the bad text. A bare port ("6381") means
// 127.0.0.1, as redis-cli's -p does.
[[nodiscard]] Result<Endpoint> parse_endpoint(std::string_view text);

// "a:1,b:2" -> endpoints in the given order, duplicates dropped; at least one.
[[nodiscard]] Result<std::vector<Endpoint>> parse_endpoints(std::string_view text);

// "a:1,b:2" from endpoints, for messages.
[[nodiscard]] std::string join_endpoints(const std::vector<Endpoint>& endpoints);

}  // namespace raftkv::client
