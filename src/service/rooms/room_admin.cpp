// Server administrators' reads of rooms (the Synapse-compatible admin API) and handing a
// room to another member through the records keeper.
#include "core/ids.h"
#include "service/rooms/event_view.h"
#include "service/rooms/room_service.h"
#include "service/rooms/room_version.h"
#include "service/rooms/visibility.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;
using storage::Stores;

namespace {

const json::value* content_field(const StoredEvent& e, const char* key) {
  auto* c = e.pdu.if_contains("content");
  if (!c || !c->is_object()) return nullptr;
  return c->as_object().if_contains(key);
}

bool is_type(const StoredEvent& e, std::string_view type) {
  auto* t = e.pdu.if_contains("type");
  return t && t->is_string() && t->as_string() == type;
}

int64_t level_in(const json::object& pl, const std::string& user) {
  int64_t def = 0;
  if (auto* d = pl.if_contains("users_default"); d && d->is_int64()) def = d->as_int64();
  if (auto* users = pl.if_contains("users"); users && users->is_object())
    if (auto* v = users->as_object().if_contains(user); v && v->is_int64()) return v->as_int64();
  return def;
}

}  // namespace

Result<std::vector<std::string>> RoomService::all_room_ids() {
  DS_ASSIGN(auto rooms, db_.read().rooms().all_rooms());
  std::vector<std::string> out;
  for (auto& r : rooms) out.push_back(r.room_id);
  return out;
}

Result<json::object> RoomService::admin_room_details(const std::string& room_id) {
  Stores& s = db_.read();
  DS_ASSIGN(auto room, s.rooms().room(room_id));
  if (!room) return Error::not_found("Unknown room");
  DS_ASSIGN(auto state, current_state(s, room_id));
  json::object out{{"room_id", room_id},          {"name", nullptr},       {"canonical_alias", nullptr},
                   {"topic", nullptr},            {"avatar", nullptr},     {"creator", room->creator},
                   {"version", room->room_version}, {"encryption", nullptr}, {"federatable", true},
                   {"public", room->is_public},   {"join_rules", nullptr}, {"guest_access", nullptr},
                   {"history_visibility", nullptr}, {"room_type", nullptr}};
  auto put = [&](const char* type, const char* key, const char* as) {
    for (auto& e : state)
      if (is_type(e, type))
        if (auto* v = content_field(e, key)) out[as] = *v;
  };
  put("m.room.name", "name", "name");
  put("m.room.canonical_alias", "alias", "canonical_alias");
  put("m.room.topic", "topic", "topic");
  put("m.room.avatar", "url", "avatar");
  put("m.room.encryption", "algorithm", "encryption");
  put("m.room.join_rules", "join_rule", "join_rules");
  put("m.room.guest_access", "guest_access", "guest_access");
  put("m.room.history_visibility", "history_visibility", "history_visibility");
  put("m.room.create", "type", "room_type");
  for (auto& e : state)
    if (is_type(e, "m.room.create"))
      if (auto* f = content_field(e, "m.federate"); f && f->is_bool()) out["federatable"] = f->as_bool();
  DS_ASSIGN(auto joined, s.memberships().users_with(room_id, "join"));
  DS_ASSIGN(auto invited, s.memberships().users_with(room_id, "invite"));
  int64_t local = std::count_if(joined.begin(), joined.end(),
                                [&](const std::string& u) { return server_name_of(u) == config_.server_name; });
  out["joined_members"] = static_cast<int64_t>(joined.size());
  out["joined_local_members"] = local;
  out["invited_members"] = static_cast<int64_t>(invited.size());
  out["state_events"] = static_cast<int64_t>(state.size());
  return out;
}

Result<json::array> RoomService::admin_state(const std::string& room_id) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, room_version(room_id));
  DS_ASSIGN(auto state, current_state(s, room_id));
  json::array out;
  for (auto& e : state) out.push_back(client_event(s, e, version));
  return out;
}

Result<std::vector<std::string>> RoomService::admin_members(const std::string& room_id) {
  DS_ASSIGN(std::string version, room_version(room_id));
  (void)version;
  return db_.read().memberships().users_with(room_id, "join");
}

Result<json::object> RoomService::admin_messages(const std::string& room_id, const PageRequest& page) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, room_version(room_id));
  storage::EventRange range;
  range.newest_first = page.backwards;
  range.limit = std::clamp(page.limit, 1, 1000);
  if (page.backwards) {
    if (page.from) range.upto = *page.from - 1;
    if (page.to) range.after = *page.to;
  } else {
    if (page.from) range.after = *page.from;
    if (page.to) range.upto = *page.to;
  }
  DS_ASSIGN(auto events, s.events().room_events(room_id, range));
  json::array chunk;
  for (auto& e : events) chunk.push_back(client_event(s, e, version));
  int64_t start = page.from.value_or(page.backwards ? db_.committed_stream_pos() + 1 : 0);
  json::object out{{"chunk", std::move(chunk)}, {"start", std::to_string(start)}};
  if (!events.empty()) out["end"] = std::to_string(page.backwards ? events.back().pos : events.back().pos);
  return out;
}

asio::awaitable<Result<std::string>> RoomService::hand_over(const std::string& room_id, const std::string& to,
                                                            std::optional<std::string> demote) {
  if (keeper_user_.empty()) co_return Error::forbidden("Handing rooms over needs the records keeper ([records] keeper)");
  Stores& s = db_.read();
  DS_CO_ASSIGN(std::string version_id, room_version(room_id));
  DS_CO_ASSIGN(auto keeper_m, s.memberships().membership(room_id, keeper_user_));
  if (keeper_m.value_or("") != "join") co_return Error::forbidden("The records keeper is not in " + room_id);
  DS_CO_ASSIGN(auto to_m, s.memberships().membership(room_id, to));
  if (to_m.value_or("") != "join") co_return Error::invalid_param(to + " is not a joined member of " + room_id);
  DS_CO_ASSIGN(auto state, current_state(s, room_id));
  json::object pl;
  std::string creator;
  json::array additional;
  for (auto& e : state) {
    if (is_type(e, "m.room.power_levels"))
      if (auto* c = e.pdu.if_contains("content"); c && c->is_object()) pl = c->as_object();
    if (is_type(e, "m.room.create")) {
      if (auto* sender = e.pdu.if_contains("sender"); sender && sender->is_string()) creator = sender->as_string();
      if (auto* a = content_field(e, "additional_creators"); a && a->is_array()) additional = a->as_array();
    }
  }
  const RoomVersion* version = find_room_version(version_id);
  if (version && version->infinite_creators) {
    // Room version 12: creators hold infinite power and can never be demoted. The keeper
    // can hand over only where it is one of them (docs/design-notes.md, "Leavers and
    // provisioning").
    bool keeper_creates = creator == keeper_user_ ||
                          std::any_of(additional.begin(), additional.end(), [&](const json::value& v) {
                            return v.is_string() && v.as_string() == keeper_user_;
                          });
    if (!keeper_creates)
      co_return Error::forbidden("In this version 12 room the records keeper is not a creator, so it cannot hand "
                                 "the room over; its creators keep their power");
  }
  int64_t top = level_in(pl, keeper_user_);
  if (version && version->infinite_creators) top = std::max<int64_t>(top, 100);
  if (level_in(pl, to) >= top && !demote) co_return Error::invalid_param(to + " already holds the room's top power level");
  json::object users;
  if (auto* u = pl.if_contains("users"); u && u->is_object()) users = u->as_object();
  users[to] = top;
  if (demote) {
    if (level_in(pl, *demote) >= level_in(pl, keeper_user_) && !(version && version->infinite_creators))
      co_return Error::forbidden(*demote + " holds the keeper's own power level; the auth rules let no one lower it");
    users.erase(*demote);
  }
  pl["users"] = std::move(users);
  const std::string type = "m.room.power_levels";
  std::optional<std::string> state_key = std::string();
  std::optional<TxnRef> txn;
  co_return co_await send_event(keeper_user_, room_id, type, std::move(pl), state_key, txn);
}

}  // namespace despatch
