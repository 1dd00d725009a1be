// Checks on state events sent through the client API, before the writer appends them.
#include "service/rooms/state_checks.h"

#include "core/ids.h"
#include "storage/room_store.h"

#include <vector>

namespace despatch {

const json::object* unchanged_state(const StateMap& state, const std::string& type, const std::string& state_key,
                                    const std::string& sender, const json::object& content) {
  const json::object* prior = find_state(state, type, state_key);
  if (!prior || !is_str(prior->at("sender"), sender)) return nullptr;
  auto* c = prior->if_contains("content");
  return c && c->is_object() && c->as_object() == content ? prior : nullptr;
}

// Other servers' aliases cannot be checked here and are taken as given.
Status check_canonical_aliases(storage::Stores& s, const std::string& room_id, const json::object& content,
                               const std::string& own_server) {
  std::vector<const json::value*> named;
  if (auto* a = content.if_contains("alias"); a && !a->is_null()) named.push_back(a);
  if (auto* alt = content.if_contains("alt_aliases")) {
    if (!alt->is_array()) return Error::bad_json("alt_aliases must be an array");
    for (auto& a : alt->as_array()) named.push_back(&a);
  }
  for (auto* a : named) {
    if (!a->is_string() || !is_valid_room_alias(a->as_string()))
      return Error::make(400, "M_INVALID_PARAM", "Not a valid room alias");
    std::string alias(a->as_string());
    if (server_name_of(alias) != own_server) continue;
    DS_ASSIGN(auto target, s.rooms().alias(alias));
    if (!target || target->room_id != room_id)
      return Error::make(400, "M_BAD_ALIAS", alias + " does not point to this room");
  }
  return ok_status();
}

}  // namespace despatch
