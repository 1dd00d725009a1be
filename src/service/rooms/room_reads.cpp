// RoomService reads: state, single events, members, joined rooms, aliases and the directory.
#include "core/ids.h"
#include "service/rooms/power_levels.h"
#include "service/rooms/room_service.h"
#include "service/rooms/visibility.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"
#include "storage/user_store.h"

#include <algorithm>
#include <set>

namespace despatch {

namespace asio = boost::asio;
using storage::Stores;

namespace {

// The state a user may read: current state while joined, the state when they left after.
Result<std::vector<StoredEvent>> readable_state(Stores& s, const std::string& user,
                                                const std::string& room_id) {
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  std::string m = vis.current_membership();
  if (m == "join") return current_state(s, room_id);
  if ((m == "leave" || m == "ban") && vis.ever_joined()) return state_at(s, room_id, vis.membership_pos());
  if (vis.may_read_room()) return current_state(s, room_id);
  return Error::forbidden("You are not in this room");
}

}  // namespace

Result<std::string> RoomService::room_version(const std::string& room_id) {
  DS_ASSIGN(auto room, db_.read().rooms().room(room_id));
  if (!room) return Error::not_found("Unknown room");
  return room->room_version;
}

Result<std::string> RoomService::version_for_reader(const std::string& room_id) {
  auto v = room_version(room_id);
  // Unknown and private rooms answer alike, so probing cannot tell which rooms exist.
  if (!v.ok() && v.error().errcode == errc::kNotFound) return Error::forbidden("You are not in this room");
  return v;
}

Result<std::string> RoomService::membership(const std::string& room_id, const std::string& user) {
  DS_ASSIGN(auto m, db_.read().memberships().membership(room_id, user));
  return m.value_or("");
}

Result<json::array> RoomService::get_state(const std::string& user, const std::string& room_id) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, version_for_reader(room_id));
  DS_ASSIGN(auto events, readable_state(s, user, room_id));
  json::array out;
  for (auto& e : events) out.push_back(client_event(s, e, version));
  return out;
}

Result<json::object> RoomService::get_state_event(const std::string& user, const std::string& room_id,
                                                  const std::string& type, const std::string& state_key) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, version_for_reader(room_id));
  DS_ASSIGN(auto events, readable_state(s, user, room_id));
  for (auto& e : events) {
    if (is_str(e.pdu["type"], type) && is_str(e.pdu["state_key"], state_key)) {
      json::object ev = client_event(s, e, version);
      return ev;
    }
  }
  return Error::not_found("No such state event");
}

Result<json::object> RoomService::get_event(const std::string& user, const std::string& room_id,
                                            const std::string& event_id) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, room_version(room_id));
  DS_ASSIGN(auto ev, load_event(s, event_id));
  if (!ev || !is_str(ev->pdu["room_id"], room_id)) return Error::not_found("Event not found");
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  if (!vis.can_see(*ev)) return Error::not_found("Event not found");
  return client_event(s, *ev, version);
}

Result<json::array> RoomService::members(const std::string& user, const std::string& room_id,
                                         const std::string& membership,
                                         const std::string& not_membership) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, version_for_reader(room_id));
  DS_ASSIGN(auto events, readable_state(s, user, room_id));
  json::array out;
  for (auto& e : events) {
    if (!is_str(e.pdu["type"], "m.room.member")) continue;
    auto m = e.pdu["content"].as_object().if_contains("membership");
    std::string ms = m && m->is_string() ? std::string(m->as_string()) : "";
    if (!membership.empty() && ms != membership) continue;
    if (!not_membership.empty() && ms == not_membership) continue;
    out.push_back(client_event(s, e, version));
  }
  return out;
}

Result<json::object> RoomService::joined_members(const std::string& user, const std::string& room_id) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string m, membership(room_id, user));
  if (m != "join") return Error::forbidden("You are not in this room");
  DS_ASSIGN(auto members, s.memberships().joined_member_events(room_id));
  json::object joined;
  for (auto& [member, event_id] : members) {
    DS_ASSIGN(auto ev, s.events().event(event_id));
    // Both keys always, null when unset: clients read them without checking.
    json::object u{{"display_name", nullptr}, {"avatar_url", nullptr}};
    auto* content = ev ? ev->pdu.if_contains("content") : nullptr;
    if (content && content->is_object()) {
      // Only strings: a member event may carry anything in these keys.
      for (auto [key, out] : {std::pair{"displayname", "display_name"}, std::pair{"avatar_url", "avatar_url"}})
        if (auto* v = content->get_object().if_contains(key); v && v->is_string()) u[out] = *v;
    }
    joined[member] = std::move(u);
  }
  return json::object{{"joined", std::move(joined)}};
}

Result<std::vector<std::string>> RoomService::joined_rooms(const std::string& user) {
  return db_.read().memberships().rooms_with(user, {"join"});
}

Result<std::string> RoomService::resolve_alias(const std::string& alias) {
  if (!is_valid_room_alias(alias)) return Error::invalid_param("Invalid room alias");
  DS_ASSIGN(auto a, db_.read().rooms().alias(alias));
  if (!a) return Error::not_found("Room alias " + alias + " not found");
  return a->room_id;
}

Result<json::object> RoomService::alias_directory(const std::string& alias) {
  if (!is_valid_room_alias(alias)) return Error::invalid_param("Invalid room alias");
  if (server_name_of(alias) != config_.server_name) return Error::not_found("Room alias " + alias + " not found");
  DS_ASSIGN(std::string room_id, resolve_alias(alias));
  DS_ASSIGN(auto joined, db_.read().memberships().users_with(room_id, "join"));
  // This server first: it answered, so it is the likeliest to let the asker in.
  json::array servers{json::string(config_.server_name)};
  std::set<std::string> seen{config_.server_name};
  for (auto& u : joined)
    if (std::string s(server_name_of(u)); !s.empty() && seen.insert(s).second) servers.emplace_back(json::string(s));
  json::object out;
  out["room_id"] = room_id;
  out["servers"] = std::move(servers);
  return out;
}

asio::awaitable<Result<json::object>> RoomService::directory_lookup(const std::string& alias) {
  if (!is_valid_room_alias(alias)) co_return Error::invalid_param("Invalid room alias");
  if (server_name_of(alias) == config_.server_name || !remote_alias_resolver_) co_return alias_directory(alias);
  co_return co_await remote_alias_resolver_(alias);
}

asio::awaitable<Status> RoomService::create_alias(const std::string& user, const std::string& alias,
                                                  const std::string& room_id) {
  if (!is_valid_room_alias(alias)) co_return Error::invalid_param("Invalid room alias");
  if (server_name_of(alias) != config_.server_name)
    co_return Error::invalid_param("Aliases must be on this server");
  if (!is_valid_room_id(room_id)) co_return Error::invalid_param("Invalid room ID");
  auto m = membership(room_id, user);
  if (!m.ok()) co_return m.error();
  if (*m != "join") co_return Error::forbidden("You are not in this room");
  auto job = [=](storage::Txn& t) -> Status {
    DS_ASSIGN(auto taken, t.rooms().alias(alias));
    if (taken) return Error{409, errc::kUnknown, "Room alias already exists", {}};
    return t.rooms().add_alias({alias, room_id, user});
  };
  co_return co_await db_.transact<Ok>(job);
}

asio::awaitable<Status> RoomService::delete_alias(const std::string& user, const std::string& alias) {
  if (!is_valid_room_alias(alias)) co_return Error::invalid_param("Invalid room alias");
  Stores& s = db_.read();
  auto row = s.rooms().alias(alias);
  if (!row.ok()) co_return row.error();
  if (!*row) co_return Error::not_found("Room alias not found");
  std::string room_id = (*row)->room_id;
  bool allowed = (*row)->creator == user;
  if (!allowed) {
    auto admin = s.users().is_admin(user);
    allowed = admin.ok() && *admin;
  }
  if (!allowed) {
    // Room moderators may tidy aliases too: joined members who may change the canonical
    // alias. A power level left in the room's power levels after a leave or ban is not one.
    auto m = membership(room_id, user);
    auto state = current_state(s, room_id);
    if (m.ok() && *m == "join" && state.ok()) {
      PowerLevels pl = PowerLevels::from_state(state_map_of(*state));
      allowed = pl.user_level(user) >= pl.event_level("m.room.canonical_alias", true);
    }
  }
  if (!allowed) co_return Error::forbidden("You may not remove this alias");
  auto job = [=](storage::Txn& t) -> Status { return t.rooms().remove_alias(alias); };
  co_return co_await db_.transact<Ok>(job);
}

Result<json::array> RoomService::room_aliases(const std::string& user, const std::string& room_id) {
  Stores& s = db_.read();
  DS_ASSIGN(std::string version, room_version(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  // The list is current, not as of a leave: members who left or were banned are external
  // users here (directory.yaml), unless the room is world_readable.
  if (vis.current_membership() != "join" && !vis.world_readable())
    return Error::forbidden("You are not in this room");
  DS_ASSIGN(auto aliases, s.rooms().aliases_of(room_id));
  json::array out;
  for (auto& a : aliases) out.push_back(json::string(a));
  return out;
}

asio::awaitable<Status> RoomService::set_visibility(const std::string& user, const std::string& room_id,
                                                    bool is_public) {
  Stores& s = db_.read();
  auto state = current_state(s, room_id);
  if (!state.ok()) co_return state.error();
  if (state->empty()) co_return Error::not_found("Unknown room");
  // Only joined members: a power level kept after a leave or ban, or given to an invitee,
  // must not publish a private room's name and topic.
  auto m = membership(room_id, user);
  if (!m.ok()) co_return m.error();
  if (*m != "join") co_return Error::forbidden("You are not in this room");
  PowerLevels pl = PowerLevels::from_state(state_map_of(*state));
  if (pl.user_level(user) < pl.event_level("m.room.canonical_alias", true))
    co_return Error::forbidden("You may not change this room's directory visibility");
  auto job = [=](storage::Txn& t) -> Status { return t.rooms().set_public(room_id, is_public); };
  co_return co_await db_.transact<Ok>(job);
}

Result<bool> RoomService::get_visibility(const std::string& room_id) {
  DS_ASSIGN(auto room, db_.read().rooms().room(room_id));
  if (!room) return Error::not_found("Unknown room");
  return room->is_public;
}

Result<json::object> RoomService::public_rooms(int64_t limit, const std::string& since,
                                               const std::string& search_term) {
  Stores& s = db_.read();
  int64_t offset = 0;
  if (!since.empty()) {
    if (since.size() < 2 || since.size() > 19 || since[0] != 'o' ||
        since.find_first_not_of("0123456789", 1) != std::string::npos)
      return Error::invalid_param("Invalid since token");
    offset = std::stoll(since.substr(1));
  }
  if (limit <= 0 || limit > 500) limit = 500;
  DS_ASSIGN(auto ids, s.rooms().public_rooms());
  std::vector<std::pair<int64_t, std::string>> rooms;  // most members first, then by ID
  for (auto& id : ids) {
    DS_ASSIGN(int64_t n, s.memberships().count(id, "join"));
    // The records keeper is no participant: a room of one official lists one member.
    if (!keeper_user_.empty()) {
      DS_ASSIGN(auto m, s.memberships().membership(id, keeper_user_));
      if (m && *m == "join") --n;
    }
    rooms.emplace_back(-n, id);
  }
  std::sort(rooms.begin(), rooms.end());
  json::array chunk;
  int64_t matched = 0;
  for (auto& [negative_members, room_id] : rooms) {
    DS_ASSIGN(auto state, current_state(s, room_id));
    json::object entry{{"room_id", room_id}, {"num_joined_members", -negative_members},
                       {"world_readable", false}, {"guest_can_join", false}, {"join_rule", "public"}};
    for (auto& e : state) {
      auto& t = e.pdu["type"];
      auto& content = e.pdu["content"].as_object();
      auto str = [&](const char* k) -> const json::value* {
        auto* v = content.if_contains(k);
        return v && v->is_string() ? v : nullptr;
      };
      if (t == "m.room.name" && str("name")) entry["name"] = *str("name");
      if (t == "m.room.topic" && str("topic")) entry["topic"] = *str("topic");
      if (t == "m.room.avatar" && str("url")) entry["avatar_url"] = *str("url");
      if (t == "m.room.canonical_alias" && str("alias")) entry["canonical_alias"] = *str("alias");
      if (t == "m.room.join_rules" && str("join_rule")) entry["join_rule"] = *str("join_rule");
      if (t == "m.room.history_visibility" && str("history_visibility"))
        entry["world_readable"] = *str("history_visibility") == "world_readable";
      if (t == "m.room.guest_access" && str("guest_access"))
        entry["guest_can_join"] = *str("guest_access") == "can_join";
      if (t == "m.room.create" && str("type")) entry["room_type"] = *str("type");
    }
    if (!search_term.empty()) {
      auto lower = [](std::string s) {
        for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
      };
      std::string hay;
      for (const char* k : {"name", "topic", "canonical_alias"})
        if (auto* v = entry.if_contains(k)) hay += lower(std::string(v->as_string())) + "\n";
      if (hay.find(lower(search_term)) == std::string::npos) continue;
    }
    ++matched;
    if (matched <= offset || static_cast<int64_t>(chunk.size()) >= limit) continue;
    chunk.push_back(std::move(entry));
  }
  json::object out{{"chunk", chunk}, {"total_room_count_estimate", matched}};
  if (offset + static_cast<int64_t>(chunk.size()) < matched)
    out["next_batch"] = "o" + std::to_string(offset + static_cast<int64_t>(chunk.size()));
  if (offset > 0) out["prev_batch"] = "o" + std::to_string(std::max<int64_t>(0, offset - limit));
  return out;
}

}  // namespace despatch
