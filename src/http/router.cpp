#include "http/router.h"

namespace despatch::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  if (!path.empty() && path[0] == '/') i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a >= 0 && b >= 0) {
        out.push_back(static_cast<char>(a * 16 + b));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void Router::add(Route route) {
  Entry e;
  for (auto seg : split_path(route.pattern))
    e.segments.emplace_back(seg.size() > 1 && seg.front() == '{' ? "{}" : std::string(seg));
  e.route = std::move(route);
  entries_.push_back(std::move(e));
}

bool Router::match_segments(const Entry& e, const std::vector<std::string_view>& segs,
                            std::vector<std::string>* params) {
  if (e.segments.size() != segs.size()) return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (e.segments[i] == "{}") {
      if (segs[i].empty()) return false;
      if (params) params->push_back(percent_decode(segs[i], false));
    } else if (e.segments[i] != segs[i]) {
      return false;
    }
  }
  return true;
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  auto segs = split_path(path);
  for (const auto& e : entries_) {
    if (!match_segments(e, segs, nullptr)) continue;
    if (e.route.method != method) {
      m.path_known = true;
      continue;
    }
    m.route = &e.route;
    match_segments(e, segs, &m.params);
    return m;
  }
  return m;
}

std::vector<std::string> Router::methods_for(std::string_view path) const {
  std::vector<std::string> out;
  auto segs = split_path(path);
  for (const auto& e : entries_)
    if (match_segments(e, segs, nullptr)) out.push_back(e.route.method);
  return out;
}

}  // namespace despatch::http
