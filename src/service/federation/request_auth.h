// Incoming federation requests: the X-Matrix check (spec "Request Authentication") and the
// allow-list, with every refusal counted and audited, at a rate the audit log can bear.
#pragma once

#include "core/config.h"
#include "core/server_name.h"
#include "service/federation/metrics.h"
#include "service/federation/server_keys.h"
#include "service/records/audit.h"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace despatch {

// Decides which refusals get an audit row, so that a peer cannot fill the disk with them:
// at most one row per origin per minute and kMaxRowsPerMinute rows a minute in all; the
// others are counted, and the next row of that origin says how many it stands for.
class RefusalAuditLimiter {
 public:
  static constexpr int64_t kWindowMs = 60'000;
  static constexpr int64_t kMaxRowsPerMinute = 60;
  static constexpr size_t kMaxOrigins = 4096;  // past this, origins share one entry

  // nullopt: count this refusal, write nothing. Otherwise write a row now, which stands for
  // the returned number of earlier refusals not audited.
  std::optional<int64_t> admit(const std::string& origin, int64_t now_ms);

 private:
  struct Entry {
    int64_t last_row_ms = 0;
    int64_t suppressed = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> origins_;
  int64_t window_start_ms_ = 0, rows_in_window_ = 0;
};

class FederationAuth {
 public:
  FederationAuth(const Config& config, ServerKeys& keys, AuditLog& audit, FederationMetrics& metrics);

  // Checks one request: authorization is its Authorization header (null when absent), uri
  // its request target as sent, content its parsed JSON body (null when it has none).
  // Returns the origin server. In order: a missing or malformed header is 401; an origin
  // not on the allow-list 403 M_FORBIDDEN (before any key is fetched); a destination that
  // is not this server 401; a key that cannot be had or a signature that does not verify
  // 401 M_UNAUTHORIZED.
  boost::asio::awaitable<Result<std::string>> authenticate(std::string_view method, std::string_view uri,
                                                           const std::string* authorization,
                                                           const json::value* content, std::string_view remote);

 private:
  // Counts and (rate-limited) audits one refusal, and returns e.
  boost::asio::awaitable<Error> refuse(Error e, const std::string& reason, const std::string& origin,
                                       std::string_view method, std::string_view uri, std::string_view remote);

  const Config& config_;
  ServerKeys& keys_;
  AuditLog& audit_;
  FederationMetrics& metrics_;
  ServerAllowList allow_;
  std::string this_server_;  // normalised
  RefusalAuditLimiter limiter_;
};

}  // namespace despatch
