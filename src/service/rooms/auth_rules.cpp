#include "service/rooms/auth_rules.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "core/ids.h"
#include "service/rooms/auth_rules_detail.h"
#include "service/rooms/event_format.h"

namespace despatch {
namespace auth_detail {

namespace {

std::vector<int> parse_rule(std::string_view rule) {
  std::vector<int> parts;
  int n = 0;
  for (char c : rule) {
    if (c == '.') {
      parts.push_back(n);
      n = 0;
    } else {
      n = n * 10 + (c - '0');
    }
  }
  parts.push_back(n);
  return parts;
}

}  // namespace

std::string cite(std::string_view v11_rule, const RoomVersion& v) {
  std::vector<int> c = parse_rule(v11_rule);
  if (c[0] == 4 && c.size() >= 2 && !v.restricted_joins) {
    // v1-7 have neither 4.2 (the authorising server's signature) nor 4.3.5 (restricted joins).
    bool join = c[1] == 3;
    if (c[1] >= 3) --c[1];
    if (join && c.size() >= 3 && c[2] >= 6) --c[2];
    if (!v.knocking && c[1] == 7) --c[1];  // v1-6 have no knock rule before "unknown membership"
  }
  if (c[0] == 9 && c.size() >= 2) {
    if (!v.integer_power_levels && c[1] >= 3) c[1] -= 2;  // v10 added 9.1 and 9.2
    if (v.infinite_creators && c[1] >= 4) ++c[1];         // v12 added 10.4
  }
  if (v.aliases_rule && c[0] >= 4) ++c[0];         // v1-5: rule 4 is about m.room.aliases
  if (v.room_id_from_create && c[0] >= 2) ++c[0];  // v12: rule 2 is about the room ID
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(c[i]);
  }
  return out;
}

Error deny_exact(std::string_view rule, std::string_view why) {
  return Error::forbidden("auth rule " + std::string(rule) + ": " + std::string(why));
}

Error deny(const RoomVersion& v, std::string_view v11_rule, std::string_view why) {
  return deny_exact(cite(v11_rule, v), why);
}

std::optional<std::string_view> str_at(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

const json::object* obj_at(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

const json::object& content_of(const json::object& event) {
  static const json::object kEmpty;
  const json::object* c = obj_at(event, "content");
  return c != nullptr ? *c : kEmpty;
}

std::string create_event_id(const json::object& create, const RoomVersion& v) {
  if (auto id = str_at(create, "event_id")) return std::string(*id);
  return compute_event_id(create, v.id);
}

}  // namespace auth_detail

using namespace auth_detail;

namespace {

constexpr std::string_view kPowerLevels = "m.room.power_levels";
constexpr std::string_view kAliases = "m.room.aliases";
constexpr std::string_view kRedaction = "m.room.redaction";

Error unsupported(std::string_view room_version) {
  return Error::make(400, errc::kUnsupportedRoomVersion,
                     "unsupported room version '" + std::string(room_version) + "'");
}

Result<EventView> view_of(const json::object& event, const RoomVersion& v) {
  EventView ev;
  auto type = str_at(event, "type");
  auto sender = str_at(event, "sender");
  ev.content = obj_at(event, "content");
  if (!type || !sender || ev.content == nullptr) {
    return Error::forbidden("malformed event: type, sender and content are required");
  }
  ev.type = *type;
  ev.sender = *sender;
  if (auto room_id = str_at(event, "room_id")) {
    ev.room_id = *room_id;
  } else if (event.contains("room_id") ||
             !(v.room_id_from_create && ev.type == kCreate)) {  // a v12 create has no room ID
    return Error::forbidden("malformed event: room_id must be a string");
  }
  if (event.contains("state_key")) {
    ev.state_key = str_at(event, "state_key");
    if (!ev.state_key) return Error::forbidden("malformed event: state_key must be a string");
  }
  return ev;
}

// ---- m.room.power_levels (rule 9 in v6-11, 10 in v1-5 and v12) ----

constexpr std::array<std::string_view, 7> kScalarLevels = {
    "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"};

// A power level entry that may be absent; "added", "changed" and "removed" compare these.
struct Level {
  bool present = false;
  int64_t value = 0;
  bool operator==(const Level&) const = default;
  bool above(int64_t level) const { return present && value > level; }
  static Level of(std::optional<int64_t> v) { return v ? Level{true, *v} : Level{}; }
  static Level at(const json::object& content, std::string_view key) {
    const json::value* v = content.if_contains(key);
    return v != nullptr ? of(lenient_power_level(*v)) : Level{};
  }
};

// The shape rules: v10+ 9.1 and 9.2 (integers everywhere), then 9.3 for `users` in every
// version, with the value forms the version accepts, and v12's 10.4 (no creator listed).
Status validate_power_levels_content(const RoomVersion& v, const json::object& content,
                                     const json::object& create) {
  if (v.integer_power_levels) {
    for (std::string_view key : kScalarLevels) {
      const json::value* value = content.if_contains(key);
      if (value != nullptr && !strict_power_level(*value)) {
        return deny(v, "9.1", "power level '" + std::string(key) + "' is not an integer");
      }
    }
    for (std::string_view key : {std::string_view("events"), std::string_view("notifications")}) {
      const json::value* map = content.if_contains(key);
      if (map == nullptr) continue;
      bool valid = map->is_object();
      if (valid) {
        for (const auto& kv : map->get_object()) valid = valid && strict_power_level(kv.value());
      }
      if (!valid) return deny(v, "9.2", "'" + std::string(key) + "' is not an object of integers");
    }
  }
  // Absent users is accepted: the rule constrains the property's shape when it is present.
  const json::value* users = content.if_contains("users");
  if (users == nullptr) return ok_status();
  bool valid = users->is_object();
  if (valid) {
    for (const auto& [user, level] : users->get_object()) {
      valid = valid && is_valid_user_id(user) && power_level_for_version(level, v);
    }
  }
  if (!valid) return deny(v, "9.3", "'users' is not an object of user IDs to integers");
  if (v.infinite_creators) {
    for (const std::string& creator : room_creators(create, v)) {
      if (users->get_object().contains(creator)) {
        return deny_exact("10.4", "'users' names the room creator " + creator);
      }
    }
  }
  return ok_status();
}

struct LevelChange {
  std::string key;
  Level before;
  Level after;
};

// Entries of content[map_key] whose level was added, changed or removed between two contents.
std::vector<LevelChange> changes_in(const json::object& before, const json::object& after,
                                    std::string_view map_key) {
  auto read = [map_key](const json::object& content) {
    std::map<std::string, Level, std::less<>> out;
    if (const json::object* map = obj_at(content, map_key)) {
      for (const auto& [name, value] : *map) {
        out.emplace(std::string(name), Level::of(lenient_power_level(value)));
      }
    }
    return out;
  };
  auto old_levels = read(before);
  auto new_levels = read(after);
  std::vector<LevelChange> changes;
  for (const auto& [key, level] : old_levels) {
    auto it = new_levels.find(key);
    Level next = it == new_levels.end() ? Level{} : it->second;
    if (next != level) changes.push_back({key, level, next});
  }
  for (const auto& [key, level] : new_levels) {
    if (!old_levels.contains(key)) changes.push_back({key, Level{}, level});
  }
  return changes;
}

Status check_power_levels(const RoomVersion& v, const EventView& ev, const StateMap& state,
                          const json::object& create, int64_t sender_level) {
  const json::object& next = *ev.content;
  DS_TRY(validate_power_levels_content(v, next, create));
  const json::object* current_event = find_state(state, std::string(kPowerLevels));
  if (current_event == nullptr) return ok_status();  // 9.4
  const json::object& current = content_of(*current_event);

  for (std::string_view key : kScalarLevels) {
    Level before = Level::at(current, key);
    Level after = Level::at(next, key);
    if (before == after) continue;
    std::string what = "'" + std::string(key) + "'";
    if (before.above(sender_level)) {
      return deny(v, "9.5.1", "cannot change " + what + " from above own level");
    }
    if (after.above(sender_level))
      return deny(v, "9.5.2", "cannot set " + what + " above own level");
  }
  std::vector<std::string_view> maps = {"events"};
  if (v.notifications_checked) maps.push_back("notifications");
  for (std::string_view map_key : maps) {
    for (const LevelChange& c : changes_in(current, next, map_key)) {
      std::string what = std::string(map_key) + "." + c.key;
      if (c.before.above(sender_level)) {
        return deny(v, "9.6.1", "cannot change " + what + " from above own level");
      }
      if (c.after.above(sender_level)) {
        return deny(v, "9.7.1", "cannot set " + what + " above own level");
      }
    }
  }
  for (const LevelChange& c : changes_in(current, next, "users")) {
    if (c.key != ev.sender && c.before.present && c.before.value >= sender_level) {
      return deny(v, "9.8.1",
                  "cannot change the level of " + c.key + ", who is not below the sender");
    }
    if (c.after.above(sender_level)) {
      return deny(v, "9.9.1", "cannot give " + c.key + " a level above the sender's own");
    }
  }
  return ok_status();
}

// ---- m.room.create (rule 1) ----

Status check_create(const RoomVersion& v, const json::object& event, const EventView& ev) {
  if (const json::value* prev = event.if_contains("prev_events");
      prev != nullptr && !(prev->is_array() && prev->get_array().empty())) {
    return deny_exact("1.1", "m.room.create must not have prev_events");
  }
  if (v.room_id_from_create) {
    if (event.contains("room_id")) {
      return deny_exact("1.2", "m.room.create must not have a room_id: its ID names the room");
    }
  } else {
    std::string_view room_domain = server_name_of(ev.room_id);
    if (room_domain.empty() || room_domain != server_name_of(ev.sender)) {
      return deny_exact("1.2", "room_id domain does not match the sender's domain");
    }
  }
  if (const json::value* version = ev.content->if_contains("room_version");
      version != nullptr &&
      !(version->is_string() && is_supported_room_version(version->get_string()))) {
    return deny_exact("1.3", "content.room_version is not a recognised room version");
  }
  if (v.create_has_creator && !ev.content->contains("creator")) {
    return deny_exact("1.4", "m.room.create content has no creator");
  }
  if (v.infinite_creators) {
    if (const json::value* extra = ev.content->if_contains("additional_creators")) {
      bool valid = extra->is_array();
      if (valid) {
        for (const json::value& u : extra->get_array()) {
          valid = valid && u.is_string() && is_valid_user_id(u.get_string());
        }
      }
      if (!valid) return deny_exact("1.4", "additional_creators is not an array of user IDs");
    }
  }
  return ok_status();
}

// ---- m.room.redaction in v1-2 (rule 11) ----

Status check_redaction_v1(const json::object& event, const PowerLevels& pl, int64_t sender_level) {
  if (sender_level >= pl.redact) return ok_status();
  std::string_view own = server_name_of(str_at(event, "event_id").value_or(""));
  std::string_view target = server_name_of(str_at(event, "redacts").value_or(""));
  if (!own.empty() && own == target) return ok_status();
  return deny_exact("11.3", "below the redact level, and the redacted event is from elsewhere");
}

}  // namespace

std::string membership_of(const StateMap& state, std::string_view user_id) {
  const json::object* ev = find_state(state, std::string(kMember), std::string(user_id));
  if (ev == nullptr) return "";
  return std::string(str_at(content_of(*ev), "membership").value_or(""));
}

std::string join_rule_of(const StateMap& state) {
  const json::object* ev = find_state(state, std::string(kJoinRules));
  if (ev == nullptr) return "invite";
  return std::string(str_at(content_of(*ev), "join_rule").value_or(""));
}

std::vector<StateKey> auth_state_keys(const json::object& event, std::string_view room_version) {
  const RoomVersion* found = find_room_version(room_version);
  const RoomVersion& v = found != nullptr ? *found : latest_room_version();
  std::vector<StateKey> keys;
  auto add = [&keys](std::string_view type, std::string_view state_key) {
    StateKey key{std::string(type), std::string(state_key)};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  };
  auto type = str_at(event, "type");
  if (type == kCreate) return keys;
  if (!v.room_id_from_create) add(kCreate, "");
  add(kPowerLevels, "");
  if (auto sender = str_at(event, "sender")) add(kMember, *sender);
  if (type != kMember) return keys;

  const json::object& content = content_of(event);
  if (auto target = str_at(event, "state_key")) add(kMember, *target);
  auto membership = str_at(content, "membership");
  if (membership == "join" || membership == "invite" || membership == "knock") {
    add(kJoinRules, "");
  }
  if (membership == "invite") {
    const json::object* tpi = obj_at(content, "third_party_invite");
    const json::object* signed_obj = tpi != nullptr ? obj_at(*tpi, "signed") : nullptr;
    if (auto token = signed_obj != nullptr ? str_at(*signed_obj, "token") : std::nullopt) {
      add(kThirdPartyInvite, *token);
    }
  }
  if (membership == "join" && v.restricted_joins) {
    if (auto via = str_at(content, "join_authorised_via_users_server")) add(kMember, *via);
  }
  return keys;
}

Status check_auth_events(const json::object& event, const std::vector<json::object>& auth_events,
                         std::string_view room_version) {
  const RoomVersion* found = find_room_version(room_version);
  if (found == nullptr) return unsupported(room_version);
  const RoomVersion& v = *found;
  if (str_at(event, "type") == kCreate) return ok_status();
  std::vector<StateKey> selected = auth_state_keys(event, room_version);
  std::set<StateKey> seen;
  bool has_create = false;
  for (const json::object& auth_event : auth_events) {
    auto type = str_at(auth_event, "type");
    auto state_key = str_at(auth_event, "state_key");
    if (!type || !state_key) return deny(v, "2.2", "an auth event is not a state event");
    StateKey key{std::string(*type), std::string(*state_key)};
    if (!seen.insert(key).second) {
      return deny(v, "2.1", "duplicate auth event for (" + key.first + ", " + key.second + ")");
    }
    if (std::find(selected.begin(), selected.end(), key) == selected.end()) {
      return deny(
          v, "2.2",
          "auth event (" + key.first + ", " + key.second + ") is not in the auth events selection");
    }
    has_create = has_create || *type == kCreate;
    if (str_at(auth_event, "room_id") != str_at(event, "room_id")) {
      return deny(v, "2.5", "an auth event belongs to a different room");
    }
  }
  if (!has_create && !v.room_id_from_create) {
    return deny(v, "2.4", "auth events contain no m.room.create event");
  }
  return ok_status();
}

Status check_event_auth(const json::object& event, const StateMap& auth_state,
                        std::string_view room_version, const ServerSignatureCheck& signed_by) {
  const RoomVersion* found = find_room_version(room_version);
  if (found == nullptr) return unsupported(room_version);
  const RoomVersion& v = *found;
  DS_ASSIGN(EventView ev, view_of(event, v));
  if (ev.type == kCreate) return check_create(v, event, ev);  // rule 1

  const json::object* create = find_state(auth_state, std::string(kCreate));
  if (v.room_id_from_create) {
    // v12 rule 2: the room ID is the create event's ID, so the create event is implied.
    if (create == nullptr || !ev.room_id.starts_with('!') ||
        create_event_id(*create, v) != "$" + std::string(ev.room_id.substr(1))) {
      return deny_exact("2", "room_id is not the ID of the room's m.room.create event");
    }
  } else if (create == nullptr) {
    return deny(v, "2.4", "no m.room.create event in the auth state");
  }
  // The auth events' room, as far as a state map can express it (rule 2.5).
  for (const StateKey& key : auth_state_keys(event, v.id)) {
    auto it = auth_state.find(key);
    if (it != auth_state.end() && str_at(it->second, "room_id") != ev.room_id) {
      return deny(v, "2.5",
                  "auth event (" + key.first + ", " + key.second + ") belongs to a different room");
    }
  }
  // Rule 3: non-federating rooms stay on the creator's server.
  if (const json::value* federate = content_of(*create).if_contains("m.federate");
      federate != nullptr && federate->is_bool() && !federate->get_bool() &&
      server_name_of(ev.sender) != server_name_of(str_at(*create, "sender").value_or(""))) {
    return deny(v, "3", "room does not federate and the sender is from another server");
  }
  if (v.aliases_rule && ev.type == kAliases) {  // rule 4 of v1-5
    if (!ev.state_key) return deny_exact("4.1", "m.room.aliases needs a state_key");
    if (*ev.state_key != server_name_of(ev.sender)) {
      return deny_exact("4.2", "m.room.aliases state_key is not the sender's server name");
    }
    return ok_status();
  }
  if (ev.type == kMember) {  // rule 4
    return check_member(MemberInput{v, event, ev, auth_state, *create, signed_by});
  }

  if (membership_of(auth_state, ev.sender) != "join") {
    return deny(v, "5", "sender is not joined to the room");
  }
  PowerLevels pl = PowerLevels::from_state(auth_state, v);
  int64_t sender_level = pl.user_level(ev.sender);
  if (ev.type == kThirdPartyInvite) {  // rule 6
    if (sender_level >= pl.invite) return ok_status();
    return deny(v, "6.1", "sender's power level is below the invite level");
  }
  if (pl.event_level(ev.type, ev.state_key.has_value()) > sender_level) {
    return deny(v, "7", "sender's power level is too low to send " + std::string(ev.type));
  }
  if (ev.state_key && ev.state_key->starts_with("@") && *ev.state_key != ev.sender) {
    return deny(v, "8", "state_key starting with '@' must be the sender");
  }
  if (ev.type == kPowerLevels) {  // rule 9
    return check_power_levels(v, ev, auth_state, *create, sender_level);
  }
  if (v.redaction_rule && ev.type == kRedaction) {  // rule 11 of v1-2
    return check_redaction_v1(event, pl, sender_level);
  }
  return ok_status();  // rule 10
}

}  // namespace despatch
