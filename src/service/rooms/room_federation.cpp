// What the rooms service does for joins across servers: the join template and the send_join
// answer of a resident server, and the adoption of a room this server joins through another.
#include "service/rooms/room_service.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/event_format.h"
#include "service/rooms/room_version.h"
#include "service/rooms/room_writer.h"
#include "service/rooms/server_acl.h"
#include "service/rooms/visibility.h"
#include "storage/event_store.h"
#include "storage/room_store.h"
#include "storage/state_store.h"

#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

// A stored event as a PDU: v3+ PDUs carry no event_id.
json::object pdu_of(const storage::StoredEvent& e) { return e.pdu; }

}  // namespace

Result<json::object> RoomService::join_template(const std::string& room_id, const std::string& user_id,
                                                const std::vector<std::string>& versions) {
  storage::Stores& s = db_.read();
  DS_ASSIGN(auto room, s.rooms().room(room_id));
  if (!room) return Error::not_found("Unknown room");
  DS_TRY(check_server_acl(s, room_id, std::string(server_name_of(user_id))));
  if (std::find(versions.begin(), versions.end(), room->room_version) == versions.end())
    return Error{400, errc::kIncompatibleRoomVersion, "Your server does not support this room's version", {{"room_version", room->room_version}}};
  DS_ASSIGN(auto extremities, s.events().forward_extremities(room_id));
  if (extremities.empty()) return Error::not_found("Unknown room");
  DS_ASSIGN(auto state, current_state(s, room_id));
  StateMap map;
  for (auto& e : state) {
    json::object ev = e.pdu;
    ev["event_id"] = e.event_id;
    auto* key = ev.if_contains("state_key");
    if (key && key->is_string()) map[{std::string(ev.at("type").as_string()), std::string(key->as_string())}] = ev;
  }
  json::object ev{{"type", "m.room.member"}, {"sender", user_id}, {"state_key", user_id}, {"room_id", room_id},
                  {"content", json::object{{"membership", "join"}}}, {"origin_server_ts", now_ms()}};
  // Decided now against the current state, so that the joining server hears why at once.
  if (auto* m = find_state(map, "m.room.member", user_id))
    if (is_str(m->at("content").at("membership"), "ban")) return Error::forbidden("You are banned from this room");
  json::array prev;
  int64_t depth = 0;
  for (size_t i = 0; i < extremities.size() && i < 20; ++i) {
    prev.push_back(json::string(extremities[i].event_id));
    depth = std::max(depth, extremities[i].depth);
  }
  ev["prev_events"] = std::move(prev);
  ev["depth"] = depth + 1;
  json::array auth;
  for (auto& key : auth_state_keys(ev, room->room_version))
    if (auto* e = find_state(map, key.first, key.second)) auth.push_back(e->at("event_id"));
  ev["auth_events"] = std::move(auth);
  json::object probe = ev;
  probe["event_id"] = "$template";
  if (auto st = check_event_auth(probe, map, room->room_version); !st.ok())
    return Error::forbidden("You may not join this room: " + st.error().message);
  return json::object{{"room_version", room->room_version}, {"event", std::move(ev)}};
}

Result<json::array> RoomService::auth_chain(const std::vector<std::string>& event_ids) {
  storage::Stores& s = db_.read();
  std::set<std::string> seen;
  std::vector<std::string> todo = event_ids;
  json::array out;
  while (!todo.empty()) {
    std::string id = todo.back();
    todo.pop_back();
    DS_ASSIGN(auto ev, s.events().event(id));
    if (!ev) continue;
    for (auto& a : event_refs(ev->pdu, "auth_events"))
      if (seen.insert(a).second) {
        todo.push_back(a);
        DS_ASSIGN(auto ae, s.events().event(a));
        if (ae) out.push_back(pdu_of(*ae));
      }
  }
  return out;
}

asio::awaitable<Result<json::object>> RoomService::accept_join(const std::string& origin, const std::string& room_id,
                                                               const std::string& event_id, json::object pdu) {
  auto version = room_version(room_id);
  if (!version.ok()) co_return version.error();
  if (auto acl = check_server_acl(db_.read(), room_id, origin); !acl.ok()) co_return acl.error();
  if (compute_event_id(pdu, *version) != event_id) co_return Error::bad_json("The event ID does not match the event");
  auto* sender = pdu.if_contains("sender");
  auto* key = pdu.if_contains("state_key");
  if (!is_str(pdu["type"], "m.room.member") || !sender || !sender->is_string() || !key || *key != *sender)
    co_return Error::bad_json("Not a join event of its sender");
  if (server_name_of(sender->as_string()) != origin) co_return Error::forbidden("The joining user is not of your server");
  auto* c = pdu.if_contains("content");
  if (!c || !c->is_object() || !is_str(c->as_object()["membership"], "join"))
    co_return Error::bad_json("Not a join event");
  std::vector<json::object> one{pdu};
  auto received = co_await receive_events(room_id, std::move(one));
  if (!received.ok()) co_return received.error();
  const Received& r = received->front();
  if (r.verdict != Acceptance::kAccepted && !r.duplicate) co_return Error::forbidden("The join was refused: " + r.reason);
  storage::Stores& s = db_.read();
  auto groups = s.state().event_groups(event_id);
  if (!groups.ok()) co_return groups.error();
  if (!*groups) co_return Error::internal("the join has no state");
  auto before = s.state().group_state((*groups)->before);
  if (!before.ok()) co_return before.error();
  json::array state;
  std::vector<std::string> ids{event_id};
  for (auto& [k, id] : *before) {
    auto ev = s.events().event(id);
    if (!ev.ok()) co_return ev.error();
    if (*ev) state.push_back(pdu_of(**ev));
    ids.push_back(id);
  }
  auto chain = auth_chain(ids);
  if (!chain.ok()) co_return chain.error();
  auto stored = s.events().event(event_id);
  if (!stored.ok()) co_return stored.error();
  // Built member by member: g++ 12 miscompiles a braced object in a co_return.
  json::object out;
  out["origin"] = config_.server_name;
  out["state"] = std::move(state);
  out["auth_chain"] = std::move(*chain);
  out["event"] = *stored ? pdu_of(**stored) : pdu;
  out["members_omitted"] = false;
  co_return out;
}

asio::awaitable<Result<std::string>> RoomService::adopt_room(const std::string& room_id, const std::string& version,
                                                             std::vector<json::object> state,
                                                             std::vector<json::object> auth_chain, json::object join) {
  auto job = [=](RoomWriter& w) -> Result<std::string> {
    DS_TRY(w.adopt(room_id, version, state, auth_chain, join));
    return room_id;
  };
  co_return co_await room_job<std::string>(room_id, job);
}

}  // namespace despatch
