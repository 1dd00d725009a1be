#include "service/rooms/server_acl.h"

#include "core/server_name.h"
#include "storage/event_store.h"
#include "storage/state_store.h"

#include <cctype>

namespace despatch {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::vector<std::string> string_entries(const json::object& content, std::string_view key) {
  std::vector<std::string> out;
  auto* v = content.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (auto& e : v->as_array())
    if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point: the last `*` seen and where it began to
  // match. Linear in practice, never exponential whatever the pattern.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && lower(pattern[p]) == lower(text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

ServerAcl ServerAcl::from_content(const json::object& content) {
  ServerAcl acl;
  acl.allow = string_entries(content, "allow");
  acl.deny = string_entries(content, "deny");
  if (auto* ip = content.if_contains("allow_ip_literals"); ip && ip->is_bool()) acl.allow_ip_literals = ip->as_bool();
  return acl;
}

bool ServerAcl::allows(std::string_view server_name) const {
  auto parts = parse_server_name(server_name);
  if (!parts) return false;
  // Matched without the port; an IPv6 literal keeps its brackets, as it is written in names.
  std::string host = parts->host;
  if (parts->ip_literal && host.find(':') != std::string::npos) host = "[" + host + "]";
  if (parts->ip_literal && !allow_ip_literals) return false;
  for (auto& d : deny)
    if (glob_match(d, host)) return false;
  for (auto& a : allow)
    if (glob_match(a, host)) return true;
  return false;
}

Result<std::optional<ServerAcl>> room_server_acl(storage::Stores& s, const std::string& room_id) {
  DS_ASSIGN(auto entry, s.state().current_entry(room_id, "m.room.server_acl", ""));
  if (!entry) return std::optional<ServerAcl>();
  DS_ASSIGN(auto stored, s.events().event(entry->event_id));
  if (!stored) return std::optional<ServerAcl>();
  auto* content = stored->pdu.if_contains("content");
  // A redacted ACL keeps no lists: it denies everyone, as its content now says.
  if (!content || !content->is_object()) return std::optional<ServerAcl>(ServerAcl{});
  return std::optional<ServerAcl>(ServerAcl::from_content(content->as_object()));
}

Status check_server_acl(storage::Stores& s, const std::string& room_id, const std::string& server) {
  DS_ASSIGN(auto acl, room_server_acl(s, room_id));
  if (acl && !acl->allows(server)) return Error::forbidden("The room's server ACL denies " + server);
  return ok_status();
}

}  // namespace despatch
