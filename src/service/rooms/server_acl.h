// Server ACLs (m.room.server_acl, client-server spec "Server Access Control Lists (ACLs) for
// rooms"): which servers may take part in a room over federation. The matching is pure; the
// readers take the room's current state from a storage view, so the inbox, the outbox, the
// reads answered to other servers and the join handshake all judge by the same rule.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace despatch {

// Glob matching as the spec's appendix defines it: `*` is any run of characters (also
// none), `?` exactly one; everything else is literal, compared case-insensitively (ASCII).
bool glob_match(std::string_view pattern, std::string_view text);

struct ServerAcl {
  std::vector<std::string> allow;  // absent: empty, which denies everyone
  std::vector<std::string> deny;
  bool allow_ip_literals = true;   // true unless the content has it as the boolean false

  // Reads the event's content leniently as the spec says: entries that are not strings are
  // ignored, a missing or non-array list is empty.
  static ServerAcl from_content(const json::object& content);
  // The spec's order: IP literal refused when allow_ip_literals is false, then deny, then
  // allow, else denied. The server name's port is ignored; a name that is not a valid
  // server name is denied.
  bool allows(std::string_view server_name) const;
};

// The room's current ACL; nullopt when it has none (everyone is allowed).
Result<std::optional<ServerAcl>> room_server_acl(storage::Stores& s, const std::string& room_id);
// 403 M_FORBIDDEN when the room's ACL denies server; ok otherwise (also for unknown rooms,
// which the caller judges on its own terms).
Status check_server_acl(storage::Stores& s, const std::string& room_id, const std::string& server);

}  // namespace despatch
