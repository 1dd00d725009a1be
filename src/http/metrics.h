// Request counts and latencies per endpoint class (sync, login, media, keys, send, client,
// admin, federation, ...), for the Prometheus text the metrics listener serves. Classes
// rather than routes keep the series few and fixed.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace despatch::http {

// The class of a route pattern (as in Route::pattern); "unmatched" for no route.
std::string_view endpoint_class(std::string_view pattern);

class RequestMetrics {
 public:
  // One request answered: its class, HTTP status and time from read to reply.
  void record(std::string_view endpoint_class, int status, double seconds);

  // despatch_http_requests_total{class,code} and despatch_http_request_duration_seconds
  // (a summary: _sum and _count per class), with their HELP and TYPE lines.
  std::string prometheus_text() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, int64_t> requests_;  // (class, "2xx") -> n
  std::map<std::string, std::pair<double, int64_t>> duration_;       // class -> (sum, count)
};

}  // namespace despatch::http
