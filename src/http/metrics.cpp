#include "http/metrics.h"

#include <cstdio>

namespace despatch::http {

namespace {

bool has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

std::string_view endpoint_class(std::string_view p) {
  if (p.empty()) return "unmatched";
  if (has(p, "/_despatch/admin/")) return "admin";
  if (has(p, "/_matrix/federation/") || has(p, "/_matrix/key/")) return "federation";
  if (has(p, "/_matrix/media/") || has(p, "/media/")) return "media";
  if (p.size() >= 5 && p.substr(p.size() - 5) == "/sync") return "sync";
  if (has(p, "/login") || has(p, "/register") || has(p, "/logout")) return "login";
  if (has(p, "/keys/") || has(p, "/sendToDevice/") || has(p, "/room_keys/")) return "keys";
  if (has(p, "/send/") || has(p, "/state/") || has(p, "/redact/")) return "send";
  if (has(p, "/_matrix/client/")) return "client";
  return "other";
}

void RequestMetrics::record(std::string_view cls, int status, double seconds) {
  std::string code = std::to_string(status / 100) + "xx";
  std::lock_guard lock(mu_);
  ++requests_[{std::string(cls), code}];
  auto& d = duration_[std::string(cls)];
  d.first += seconds;
  ++d.second;
}

std::string RequestMetrics::prometheus_text() const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP despatch_http_requests_total Requests answered, by endpoint class and status class.\n"
      "# TYPE despatch_http_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += "despatch_http_requests_total{class=\"" + key.first + "\",code=\"" + key.second +
           "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP despatch_http_request_duration_seconds Time from a request read to its reply.\n"
      "# TYPE despatch_http_request_duration_seconds summary\n";
  for (const auto& [cls, d] : duration_) {
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f", d.first);
    out += "despatch_http_request_duration_seconds_sum{class=\"" + cls + "\"} " + sum + "\n";
    out += "despatch_http_request_duration_seconds_count{class=\"" + cls + "\"} " +
           std::to_string(d.second) + "\n";
  }
  return out;
}

}  // namespace despatch::http
