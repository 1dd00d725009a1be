// Server discovery (server-server spec "Resolving server names"): from a server name to the
// address to connect to, the name its certificate must carry and the Host header to send.
// Implemented: IP literals, explicit ports, /.well-known/matrix/server (no redirects
// followed) and the _matrix-fed._tcp SRV records, with answers cached. Left out: the
// deprecated _matrix._tcp SRV records and 30x redirects of the well-known request.
#pragma once

#include "core/result.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace despatch::http {

struct ResolvedServer {
  std::string connect_host;  // an IP address or a host name for A/AAAA lookup
  uint16_t port = 0;
  std::string tls_name;      // the certificate must be valid for this (host name or IP)
  std::string host_header;
};

// The steps that need no lookup, as pure functions:
// 1 and 2: an IP literal, or a host name with an explicit port, is its own target; nullopt
// when the name needs .well-known and SRV (or is not a server name).
std::optional<ResolvedServer> direct_target(const std::string& server_name);
// 3.1 and 3.2: a delegated name that is an IP literal or has a port; nullopt when it needs
// an SRV lookup (3.3) or is not a server name.
std::optional<ResolvedServer> delegated_target(const std::string& delegated);
// 3.5 and 6: the host name on port 8448.
ResolvedServer default_target(const std::string& hostname);

// The body and Cache-Control header of a /.well-known/matrix/server answer with status 200,
// or nullopt when there was none (not reachable, any other status).
struct WellKnownAnswer {
  std::string body, cache_control;
};
using WellKnownFetch =
    std::function<boost::asio::awaitable<std::optional<WellKnownAnswer>>(const std::string& hostname)>;

class ServerResolver {
 public:
  explicit ServerResolver(WellKnownFetch fetch) : fetch_(std::move(fetch)) {}
  ~ServerResolver();

  // Resolves a valid server name; M_INVALID_PARAM (400) for anything else. Hosts are not
  // looked up here (the connection does that), only delegation is followed.
  boost::asio::awaitable<Result<ResolvedServer>> resolve(const std::string& server_name);

 private:
  struct Cached {
    ResolvedServer server;
    std::chrono::steady_clock::time_point expires;
  };
  boost::asio::awaitable<std::optional<ResolvedServer>> srv(const std::string& hostname);

  WellKnownFetch fetch_;
  std::mutex mu_;
  std::map<std::string, Cached> cache_;
  boost::asio::thread_pool dns_{1};  // res_nquery blocks: SRV lookups run here
};

}  // namespace despatch::http
