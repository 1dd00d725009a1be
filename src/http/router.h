// The route table: method + path pattern -> handler. Patterns are matched segment by segment;
// `{name}` segments capture one percent-decoded segment.
#pragma once

#include "http/request.h"

#include <memory>
#include <string_view>
#include <vector>

namespace despatch::http {

class Router {
 public:
  void add(Route route);

  struct Match {
    const Route* route = nullptr;
    std::vector<std::string> params;
    bool path_known = false;  // some route has this path, but not this method
  };
  // Finds the route for method and the path part of a target (no query string).
  Match match(std::string_view method, std::string_view path) const;
  // Methods registered for a path, for CORS preflight and 405 answers.
  std::vector<std::string> methods_for(std::string_view path) const;

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;  // "{}" marks a capture
  };
  static bool match_segments(const Entry& e, const std::vector<std::string_view>& segs,
                             std::vector<std::string>* params);
  std::vector<Entry> entries_;
};

// Percent-decodes one path segment or query component ('+' stays '+' in paths).
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace despatch::http
