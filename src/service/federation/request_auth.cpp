#include "service/federation/request_auth.h"

#include "core/log.h"
#include "core/utf8.h"
#include "core/xmatrix.h"
#include "service/common/time.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

// Audit details quote what the peer sent: bounded and valid UTF-8.
std::string clip(std::string_view s) { return to_valid_utf8(s.substr(0, 256)); }

}  // namespace

std::optional<int64_t> RefusalAuditLimiter::admit(const std::string& origin, int64_t now) {
  std::lock_guard lock(mu_);
  if (now - window_start_ms_ >= kWindowMs) {
    window_start_ms_ = now;
    rows_in_window_ = 0;
  }
  std::string key = origin;
  if (!origins_.count(key) && origins_.size() >= kMaxOrigins) {
    for (auto it = origins_.begin(); it != origins_.end();)
      it = now - it->second.last_row_ms >= kWindowMs && it->second.suppressed == 0 ? origins_.erase(it) : std::next(it);
    if (origins_.size() >= kMaxOrigins) key = "*";  // a flood of names: one shared entry
  }
  Entry& e = origins_[key];
  if ((e.last_row_ms != 0 && now - e.last_row_ms < kWindowMs) || rows_in_window_ >= kMaxRowsPerMinute) {
    ++e.suppressed;
    return std::nullopt;
  }
  int64_t stands_for = e.suppressed;
  e.last_row_ms = now;
  e.suppressed = 0;
  ++rows_in_window_;
  return stands_for;
}

FederationAuth::FederationAuth(const Config& config, ServerKeys& keys, AuditLog& audit, FederationMetrics& metrics)
    : config_(config), keys_(keys), audit_(audit), metrics_(metrics), allow_(config.federation.allow),
      this_server_(normalise_server_name(config.server_name)) {}

asio::awaitable<Error> FederationAuth::refuse(Error e, const std::string& reason, const std::string& origin,
                                              std::string_view method, std::string_view uri, std::string_view remote) {
  if (e.status == 403) ++metrics_.refused_not_allowed;
  else ++metrics_.refused_unauthorized;
  DS_LOG(kInfo, "federation: refused {} {} from {} ({}): {}", method, clip(uri), clip(origin), remote, e.message);
  auto admitted = limiter_.admit(origin, now_ms());
  if (!admitted) {
    ++metrics_.audit_suppressed;
    co_return e;
  }
  json::object details{{"origin", clip(origin)}, {"reason", reason}, {"status", e.status},
                       {"method", clip(method)}, {"uri", clip(uri)}, {"remote", clip(remote)},
                       {"suppressed_before", *admitted}};
  auto st = co_await audit_.record("federation", "federation.refused", "", details);
  if (!st.ok()) DS_LOG(kError, "federation: cannot audit a refusal: {}", st.error().message);
  co_return e;
}

asio::awaitable<Result<std::string>> FederationAuth::authenticate(std::string_view method, std::string_view uri,
                                                                  const std::string* authorization,
                                                                  const json::value* content, std::string_view remote) {
  if (!authorization) {
    Error missing{401, errc::kUnauthorized, "Missing X-Matrix Authorization header", {}};
    co_return co_await refuse(std::move(missing), "missing_authorization", "", method, uri, remote);
  }
  auto parsed = parse_xmatrix(*authorization);
  if (!parsed.ok()) co_return co_await refuse(std::move(parsed).error(), "malformed_authorization", "", method, uri, remote);
  XMatrixAuth& auth = *parsed;
  if (!allow_.allows(auth.origin)) {
    Error not_allowed = Error::forbidden(auth.origin + " is not on this server's federation allow-list");
    co_return co_await refuse(std::move(not_allowed), "not_allowed", auth.origin, method, uri, remote);
  }
  if (auth.destination && normalise_server_name(*auth.destination) != this_server_) {
    ++metrics_.refused_wrong_destination;
    Error wrong{401, errc::kUnauthorized,
                "X-Matrix destination " + *auth.destination + " is not this server (" + config_.server_name + ")", {}};
    co_return co_await refuse(std::move(wrong), "wrong_destination", auth.origin, method, uri, remote);
  }
  auto key = co_await keys_.request_key(auth.origin, auth.key);
  if (!key.ok()) {
    ++metrics_.refused_no_key;
    co_return co_await refuse(std::move(key).error(), "no_key", auth.origin, method, uri, remote);
  }
  auto st = verify_xmatrix(auth, config_.server_name, method, uri, content, *key);
  if (!st.ok()) {
    ++metrics_.refused_bad_signature;
    co_return co_await refuse(std::move(st).error(), "bad_signature", auth.origin, method, uri, remote);
  }
  ++metrics_.authenticated;
  co_return std::move(auth.origin);
}

}  // namespace despatch
