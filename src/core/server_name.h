// Server names as federation uses them (spec "Resolving server names"): the pieces of a name,
// the body and cache lifetime of /.well-known/matrix/server, and the allow-list of servers
// this one federates with. Pure functions: the resolving itself (DNS, HTTPS) is in http/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace despatch {

inline constexpr uint16_t kDefaultFederationPort = 8448;

struct ServerNameParts {
  std::string host;             // an IPv6 literal without its brackets
  std::optional<uint16_t> port;  // absent when the name has none
  bool ip_literal = false;
};

// Splits a server name (appendices "Server Name"); nullopt when it is not one.
std::optional<ServerNameParts> parse_server_name(std::string_view name);

// The `m.server` of a /.well-known/matrix/server body, when the body is a JSON object whose
// m.server is a valid server name; nullopt for anything else (spec: go on to SRV).
std::optional<std::string> parse_well_known_server(std::string_view body);

// How long a /.well-known answer may be cached, in seconds, from its Cache-Control header:
// max-age capped at 48 hours, no-store or no-cache as 0, 24 hours when absent or unreadable.
int64_t well_known_cache_seconds(std::string_view cache_control);

// The servers this one federates with ([federation] allow): empty allows nobody, "*" anyone.
// Names are compared with the host part lower-cased (DNS names are not case-sensitive).
class ServerAllowList {
 public:
  ServerAllowList() = default;
  explicit ServerAllowList(const std::vector<std::string>& names);
  bool allows(std::string_view server_name) const;
  bool allows_any() const { return any_; }

 private:
  bool any_ = false;
  std::vector<std::string> names_;  // normalised
};

// The host part lower-cased; the port, if any, as given.
std::string normalise_server_name(std::string_view name);

}  // namespace despatch
