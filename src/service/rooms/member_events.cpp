#include "service/rooms/member_events.h"

#include "core/ids.h"

#include <set>

namespace despatch {

namespace {

std::string member_string(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string membership_of(const json::object& ev) {
  auto* c = ev.if_contains("content");
  return c && c->is_object() ? member_string(c->as_object(), "membership") : "";
}

json::object stripped(const json::object& ev) {
  json::object out;
  for (const char* key : {"type", "state_key", "sender", "content"})
    if (auto* v = ev.if_contains(key)) out[key] = *v;
  return out;
}

}  // namespace

json::array stripped_state(const StateMap& state, const std::string& sender) {
  static const std::set<std::string> kTypes = {"m.room.create",          "m.room.join_rules", "m.room.name",
                                               "m.room.avatar",          "m.room.encryption", "m.room.topic",
                                               "m.room.canonical_alias", "gov.despatch.classification"};
  json::array out;
  for (auto& [key, ev] : state) {
    bool wanted = kTypes.count(key.first) && key.second.empty();
    if (!sender.empty() && key.first == "m.room.member" && key.second == sender) wanted = true;
    if (wanted) out.push_back(stripped(ev));
  }
  return out;
}

Result<json::array> parse_stripped_state(const json::value* v) {
  json::array out;
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Error::bad_json("The stripped state must be an array");
  if (v->as_array().size() > kMaxStrippedState) return Error::bad_json("The stripped state has too many events");
  for (auto& e : v->as_array()) {
    if (!e.is_object()) return Error::bad_json("A stripped state event is not an object");
    const json::object& o = e.as_object();
    for (const char* key : {"type", "state_key", "sender"}) {
      auto* f = o.if_contains(key);
      if (!f || !f->is_string()) return Error::bad_json(std::string("A stripped state event lacks a string ") + key);
    }
    auto* c = o.if_contains("content");
    if (!c || !c->is_object()) return Error::bad_json("A stripped state event lacks its content");
    out.push_back(stripped(o));
  }
  return out;
}

Status check_incoming_invite(const json::object& ev, const std::string& room_id, const std::string& origin,
                             const std::string& server_name) {
  if (member_string(ev, "type") != "m.room.member") return Error::bad_json("Not a member event");
  if (member_string(ev, "room_id") != room_id) return Error::bad_json("The event is of another room");
  if (membership_of(ev) != "invite") return Error::bad_json("Not an invite");
  std::string sender = member_string(ev, "sender");
  std::string target = member_string(ev, "state_key");
  if (!is_valid_user_id(sender) || !is_valid_user_id(target)) return Error::bad_json("Invalid sender or state_key");
  if (server_name_of(sender) != origin) return Error::forbidden("The inviter is not a user of your server");
  if (server_name_of(target) != server_name) return Error::forbidden("The invited user is not a user of this server");
  return ok_status();
}

Status check_own_member_event(const json::object& ev, const std::string& room_id, const std::string& origin,
                              const std::string& membership) {
  if (member_string(ev, "type") != "m.room.member") return Error::bad_json("Not a member event");
  if (member_string(ev, "room_id") != room_id) return Error::bad_json("The event is of another room");
  std::string sender = member_string(ev, "sender");
  if (!is_valid_user_id(sender) || member_string(ev, "state_key") != sender)
    return Error::bad_json("Not a member event of its sender");
  if (server_name_of(sender) != origin) return Error::forbidden("The user is not of your server");
  if (membership_of(ev) != membership) return Error::bad_json("Not a " + membership + " event");
  return ok_status();
}

json::object stripped_with_id(const json::object& ev) {
  json::object out = stripped(ev);
  for (const char* key : {"event_id", "origin_server_ts"})
    if (auto* v = ev.if_contains(key)) out[key] = *v;
  return out;
}

}  // namespace despatch
