// What the rooms service does for joins across servers: the join template and the send_join
// answer of a resident server, and the adoption of a room this server joins through another.
#include "service/rooms/room_service.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/policy/classification.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/event_format.h"
#include "service/rooms/member_events.h"
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
  return member_template(room_id, user_id, "join", versions);
}

namespace {

// A member event drafted against the room's current state as committed: prev_events, depth
// and auth_events filled in, the auth rules checked (a template is only a proposal: what
// is finally sent goes through the lane's checks again).
struct MemberDraft {
  std::string version;
  json::object event;
  StateMap state;
};

Result<MemberDraft> draft_member(storage::Stores& s, const std::string& room_id, const std::string& sender,
                                 const std::string& target, json::object content,
                                 const std::vector<std::string>& versions) {
  DS_ASSIGN(auto room, s.rooms().room(room_id));
  if (!room) return Error::not_found("Unknown room");
  if (!versions.empty() && std::find(versions.begin(), versions.end(), room->room_version) == versions.end())
    return Error{400, errc::kIncompatibleRoomVersion, "Your server does not support this room's version", {{"room_version", room->room_version}}};
  DS_ASSIGN(auto extremities, s.events().forward_extremities(room_id));
  if (extremities.empty()) return Error::not_found("Unknown room");
  DS_ASSIGN(auto state, current_state(s, room_id));
  MemberDraft out;
  out.version = room->room_version;
  for (auto& e : state) {
    json::object ev = e.pdu;
    ev["event_id"] = e.event_id;
    auto* key = ev.if_contains("state_key");
    if (key && key->is_string()) out.state[{std::string(ev.at("type").as_string()), std::string(key->as_string())}] = ev;
  }
  std::string membership(content.at("membership").as_string());
  json::object ev{{"type", "m.room.member"}, {"sender", sender}, {"state_key", target}, {"room_id", room_id},
                  {"content", std::move(content)}, {"origin_server_ts", now_ms()}};
  // Decided now against the current state, so that the user's server hears why at once.
  if (auto* m = find_state(out.state, "m.room.member", target))
    if (membership != "leave" && membership != "ban" && is_str(m->at("content").at("membership"), "ban"))
      return Error::forbidden("You are banned from this room");
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
    if (auto* e = find_state(out.state, key.first, key.second)) auth.push_back(e->at("event_id"));
  ev["auth_events"] = std::move(auth);
  json::object probe = ev;
  probe["event_id"] = "$template";
  if (auto st = check_event_auth(probe, out.state, room->room_version); !st.ok())
    return Error::forbidden("You may not " + membership + " this room: " + st.error().message);
  out.event = std::move(ev);
  return out;
}

// A room is shared with another server only up to that server's maximum classification.
Status check_shared(const Config& config, const StateMap& state, std::string_view server) {
  ClassificationScheme scheme(config);
  return scheme.check_shared(scheme.room_marking(state), server);
}

Result<StateMap> current_state_map(storage::Stores& s, const std::string& room_id) {
  DS_ASSIGN(auto state, current_state(s, room_id));
  StateMap map;
  for (auto& e : state)
    if (auto* key = e.pdu.if_contains("state_key"); key && key->is_string())
      map[{std::string(e.pdu.at("type").as_string()), std::string(key->as_string())}] = e.pdu;
  return map;
}

// Whether origin may send a member event to the room: its server ACL, and (but to leave)
// the room's classification against origin's cap, both as committed now.
Status check_origin(const Config& config, storage::Stores& s, const std::string& room_id, const std::string& origin,
                    const std::string& membership) {
  DS_TRY(check_server_acl(s, room_id, origin));
  if (membership == "leave") return ok_status();
  DS_ASSIGN(StateMap state, current_state_map(s, room_id));
  return check_shared(config, state, origin);
}

}  // namespace

Result<json::object> RoomService::member_template(const std::string& room_id, const std::string& user_id,
                                                  const std::string& membership,
                                                  const std::vector<std::string>& versions) {
  DS_TRY(check_server_acl(db_.read(), room_id, std::string(server_name_of(user_id))));
  DS_ASSIGN(MemberDraft d, draft_member(db_.read(), room_id, user_id, user_id,
                                        json::object{{"membership", membership}}, versions));
  if (membership != "leave") DS_TRY(check_shared(config_, d.state, server_name_of(user_id)));
  return json::object{{"room_version", d.version}, {"event", std::move(d.event)}};
}

Result<InviteDraft> RoomService::invite_draft(const std::string& sender, const std::string& room_id,
                                              const std::string& target, json::object content) {
  content["membership"] = "invite";
  DS_ASSIGN(MemberDraft d, draft_member(db_.read(), room_id, sender, target, std::move(content), {}));
  DS_TRY(check_shared(config_, d.state, server_name_of(target)));
  if (auto* m = find_state(d.state, "m.room.member", target); m && is_str(m->at("content").at("membership"), "join"))
    return Error::forbidden(target + " is already in the room");
  InviteDraft out;
  out.room_version = d.version;
  if (find_room_version(d.version)->event_ids == EventIdFormat::kOpaque)
    d.event["event_id"] = "$" + random_string(18) + ":" + config_.server_name;
  out.event_id = hash_sign_and_identify(d.event, config_.server_name, key_, d.version);
  out.event = std::move(d.event);
  out.stripped = stripped_state(d.state, sender);
  return out;
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

asio::awaitable<Result<json::object>> RoomService::accept_member(const std::string& origin, const std::string& room_id,
                                                                 const std::string& event_id, json::object pdu,
                                                                 const std::string& membership) {
  auto version = room_version(room_id);
  if (!version.ok()) co_return version.error();
  if (auto acl = check_origin(config_, db_.read(), room_id, origin, membership); !acl.ok()) co_return acl.error();
  if (auto st = check_own_member_event(pdu, room_id, origin, membership); !st.ok()) co_return st.error();
  if (compute_event_id(pdu, *version) != event_id) co_return Error::bad_json("The event ID does not match the event");
  std::vector<json::object> one{pdu};
  auto received = co_await receive_events(room_id, std::move(one), origin, true);
  if (!received.ok()) co_return received.error();
  const Received& r = received->front();
  if (r.verdict != Acceptance::kAccepted && !r.duplicate)
    co_return Error::forbidden("The " + membership + " was refused: " + r.reason);
  auto stored = db_.read().events().event(event_id);
  if (!stored.ok()) co_return stored.error();
  if (!*stored) co_return pdu;
  co_return pdu_of(**stored);
}

Result<json::array> RoomService::stripped_room_state(const std::string& room_id) {
  DS_ASSIGN(StateMap map, current_state_map(db_.read(), room_id));
  return stripped_state(map, "");
}

asio::awaitable<Result<json::object>> RoomService::accept_join(const std::string& origin, const std::string& room_id,
                                                               const std::string& event_id, json::object pdu) {
  auto joined = co_await accept_member(origin, room_id, event_id, std::move(pdu), "join");
  if (!joined.ok()) co_return joined.error();
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
  // Built member by member: g++ 12 miscompiles a braced object in a co_return.
  json::object out;
  out["origin"] = config_.server_name;
  out["state"] = std::move(state);
  out["auth_chain"] = std::move(*chain);
  out["event"] = std::move(*joined);
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
