#include "core/server_name.h"

#include "core/canonical_json.h"
#include "core/ids.h"

#include <algorithm>
#include <cctype>

namespace despatch {
namespace {

constexpr int64_t kWellKnownDefaultSeconds = 24 * 3600;
constexpr int64_t kWellKnownMaxSeconds = 48 * 3600;

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<ServerNameParts> parse_server_name(std::string_view name) {
  if (!is_valid_server_name(name)) return std::nullopt;
  ServerNameParts p;
  std::string_view port;
  if (name.front() == '[') {
    size_t close = name.find(']');
    p.host = std::string(name.substr(1, close - 1));
    p.ip_literal = true;
    if (close + 1 < name.size()) port = name.substr(close + 2);
  } else {
    size_t colon = name.find(':');
    p.host = std::string(name.substr(0, colon));
    if (colon != std::string_view::npos) port = name.substr(colon + 1);
    // The grammar holds all-numeric dotted names to IPv4.
    p.ip_literal = std::all_of(p.host.begin(), p.host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  }
  if (!port.empty()) {
    if (!all_digits(port)) return std::nullopt;
    unsigned long n = std::stoul(std::string(port));
    if (n == 0 || n > 65535) return std::nullopt;
    p.port = static_cast<uint16_t>(n);
  }
  return p;
}

std::optional<std::string> parse_well_known_server(std::string_view body) {
  auto parsed = parse_strict_json(body);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const json::value* server = parsed->as_object().if_contains("m.server");
  if (!server || !server->is_string()) return std::nullopt;
  std::string name(server->get_string());
  if (!parse_server_name(name)) return std::nullopt;
  return name;
}

int64_t well_known_cache_seconds(std::string_view cache_control) {
  std::string cc;
  for (char c : cache_control) cc.push_back(lower(c));
  if (cc.find("no-store") != std::string::npos || cc.find("no-cache") != std::string::npos) return 0;
  auto at = cc.find("max-age=");
  if (at == std::string::npos) return kWellKnownDefaultSeconds;
  size_t i = at + 8, j = i;
  while (j < cc.size() && cc[j] >= '0' && cc[j] <= '9' && j - i < 12) ++j;
  if (j == i) return kWellKnownDefaultSeconds;
  return std::min<int64_t>(std::stoll(cc.substr(i, j - i)), kWellKnownMaxSeconds);
}

std::string normalise_server_name(std::string_view name) {
  std::string out(name);
  size_t host_end = out.size();
  if (!out.empty() && out.front() == '[') host_end = out.find(']');
  else if (auto colon = out.find(':'); colon != std::string::npos) host_end = colon;
  for (size_t i = 0; i < host_end && i < out.size(); ++i) out[i] = lower(out[i]);
  return out;
}

ServerAllowList::ServerAllowList(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n == "*") any_ = true;
    else names_.push_back(normalise_server_name(n));
  }
}

bool ServerAllowList::allows(std::string_view server_name) const {
  if (any_) return true;
  std::string n = normalise_server_name(server_name);
  return std::find(names_.begin(), names_.end(), n) != names_.end();
}

}  // namespace despatch
