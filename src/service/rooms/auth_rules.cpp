#include "service/rooms/auth_rules.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <utility>

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "core/ids.h"

namespace despatch {
namespace {

constexpr std::string_view kCreate = "m.room.create";
constexpr std::string_view kMember = "m.room.member";
constexpr std::string_view kJoinRules = "m.room.join_rules";
constexpr std::string_view kPowerLevels = "m.room.power_levels";
constexpr std::string_view kThirdPartyInvite = "m.room.third_party_invite";

Error deny(std::string rule, std::string_view why) {
  return Error::forbidden("auth rule " + std::move(rule) + ": " + std::string(why));
}

// Returns obj[key] if it is a string, else nullopt.
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

// The fields of an event the rules read, validated once.
struct EventView {
  std::string_view type;
  std::string_view sender;
  std::string_view room_id;
  std::optional<std::string_view> state_key;
  const json::object* content = nullptr;
};

Result<EventView> view_of(const json::object& event) {
  EventView ev;
  auto type = str_at(event, "type");
  auto sender = str_at(event, "sender");
  auto room_id = str_at(event, "room_id");
  ev.content = obj_at(event, "content");
  if (!type || !sender || !room_id || ev.content == nullptr) {
    return Error::forbidden("malformed event: type, sender, room_id and content are required");
  }
  ev.type = *type;
  ev.sender = *sender;
  ev.room_id = *room_id;
  if (event.contains("state_key")) {
    ev.state_key = str_at(event, "state_key");
    if (!ev.state_key) return Error::forbidden("malformed event: state_key must be a string");
  }
  return ev;
}

// ---- Third-party invite signatures (rule 4.4.1.7) ----

// True if any ed25519 signature in `signed_obj` verifies under any key of the
// m.room.third_party_invite content (public_key, public_keys[].public_key).
bool third_party_signature_valid(const json::object& signed_obj, const json::object& invite) {
  const json::object* signatures = obj_at(signed_obj, "signatures");
  if (signatures == nullptr) return false;
  json::object payload = signed_obj;
  payload.erase("signatures");
  payload.erase("unsigned");
  if (!check_canonical_values(payload).ok()) return false;
  std::string message = canonical_json(payload);

  std::vector<std::string> keys;
  auto add_key = [&keys](const json::object& holder) {
    if (auto b64 = str_at(holder, "public_key")) {
      if (auto raw = base64_decode(*b64)) keys.push_back(std::move(*raw));
    }
  };
  add_key(invite);
  if (const json::value* list = invite.if_contains("public_keys"); list && list->is_array()) {
    for (const json::value& entry : list->get_array()) {
      if (entry.is_object()) add_key(entry.get_object());
    }
  }
  for (const auto& server_sigs : *signatures) {
    if (!server_sigs.value().is_object()) continue;
    for (const auto& [key_id, sig_value] : server_sigs.value().get_object()) {
      if (!key_id.starts_with("ed25519:") || !sig_value.is_string()) continue;
      auto sig = base64_decode(sig_value.get_string());
      if (!sig) continue;
      for (const std::string& key : keys) {
        if (ed25519_verify(key, message, *sig)) return true;
      }
    }
  }
  return false;
}

// ---- m.room.member (rule 4) ----

struct MemberContext {
  const json::object& event;
  const EventView& ev;
  const StateMap& state;
  const PowerLevels& pl;
  std::string_view target;
  std::string sender_membership;
  std::string target_membership;
};

Status check_third_party_invite(const MemberContext& m, const json::value& tpi) {
  if (m.target_membership == "ban") return deny("4.4.1.1", "third-party invite target is banned");
  const json::object* signed_obj = tpi.is_object() ? obj_at(tpi.get_object(), "signed") : nullptr;
  if (signed_obj == nullptr) return deny("4.4.1.2", "third_party_invite has no signed object");
  auto mxid = str_at(*signed_obj, "mxid");
  auto token = str_at(*signed_obj, "token");
  if (!mxid || !token) return deny("4.4.1.3", "third_party_invite.signed lacks mxid or token");
  if (*mxid != m.target) return deny("4.4.1.4", "third_party_invite mxid does not match state_key");
  const json::object* invite =
      find_state(m.state, std::string(kThirdPartyInvite), std::string(*token));
  if (invite == nullptr) {
    return deny("4.4.1.5", "no m.room.third_party_invite event matches the token");
  }
  if (str_at(*invite, "sender") != m.ev.sender) {
    return deny("4.4.1.6", "sender did not send the m.room.third_party_invite");
  }
  if (third_party_signature_valid(*signed_obj, content_of(*invite))) return ok_status();
  return deny("4.4.1.8", "third_party_invite signature matches none of the invite's public keys");
}

Status check_join(const MemberContext& m, const json::object& create) {
  // 4.3.1: the creator's own join straight after the create event.
  const json::value* prev = m.event.if_contains("prev_events");
  auto create_id = str_at(create, "event_id");
  if (prev != nullptr && prev->is_array() && prev->get_array().size() == 1 && create_id &&
      prev->get_array()[0].is_string() && prev->get_array()[0].get_string() == *create_id &&
      m.target == room_creator(create)) {
    return ok_status();
  }
  if (m.ev.sender != m.target) return deny("4.3.2", "sender does not match state_key for a join");
  if (m.sender_membership == "ban") return deny("4.3.3", "sender is banned from the room");
  std::string rule = join_rule_of(m.state);
  bool member_or_invited = m.sender_membership == "invite" || m.sender_membership == "join";
  if ((rule == "invite" || rule == "knock") && member_or_invited) return ok_status();
  if (rule == "restricted" || rule == "knock_restricted") {
    if (member_or_invited) return ok_status();
    auto via = str_at(*m.ev.content, "join_authorised_via_users_server");
    if (!via || membership_of(m.state, *via) != "join") {
      return deny("4.3.5.2", "restricted join not authorised by a joined member");
    }
    if (m.pl.user_level(*via) < m.pl.invite) {
      return deny("4.3.5.2", "join_authorised_via_users_server user lacks the invite level");
    }
    return ok_status();
  }
  if (rule == "public") return ok_status();
  return deny("4.3.7", "join rule '" + rule + "' does not allow this join");
}

Status check_invite(const MemberContext& m) {
  if (const json::value* tpi = m.ev.content->if_contains("third_party_invite")) {
    return check_third_party_invite(m, *tpi);
  }
  if (m.sender_membership != "join") return deny("4.4.2", "inviter is not joined to the room");
  if (m.target_membership == "join" || m.target_membership == "ban") {
    return deny("4.4.3", "invitee is already joined or is banned");
  }
  if (m.pl.user_level(m.ev.sender) >= m.pl.invite) return ok_status();
  return deny("4.4.5", "sender's power level is below the invite level");
}

Status check_leave(const MemberContext& m) {
  if (m.ev.sender == m.target) {
    const std::string& s = m.sender_membership;
    if (s == "invite" || s == "join" || s == "knock") return ok_status();
    return deny("4.5.1", "cannot leave without being invited, joined or knocking");
  }
  if (m.sender_membership != "join") return deny("4.5.2", "sender is not joined to the room");
  int64_t sender_level = m.pl.user_level(m.ev.sender);
  if (m.target_membership == "ban" && sender_level < m.pl.ban) {
    return deny("4.5.3", "sender's power level is below the ban level needed to unban");
  }
  if (sender_level >= m.pl.kick && m.pl.user_level(m.target) < sender_level) return ok_status();
  return deny("4.5.5", "sender cannot kick: below the kick level or not above the target");
}

Status check_ban(const MemberContext& m) {
  if (m.sender_membership != "join") return deny("4.6.1", "sender is not joined to the room");
  int64_t sender_level = m.pl.user_level(m.ev.sender);
  if (sender_level >= m.pl.ban && m.pl.user_level(m.target) < sender_level) return ok_status();
  return deny("4.6.3", "sender cannot ban: below the ban level or not above the target");
}

Status check_knock(const MemberContext& m) {
  std::string rule = join_rule_of(m.state);
  if (rule != "knock" && rule != "knock_restricted") {
    return deny("4.7.1", "join rule '" + rule + "' does not allow knocking");
  }
  if (m.ev.sender != m.target) return deny("4.7.2", "sender does not match state_key for a knock");
  const std::string& s = m.sender_membership;
  if (s != "ban" && s != "invite" && s != "join") return ok_status();
  return deny("4.7.4", "cannot knock while banned, invited or joined");
}

Status check_member(const json::object& event, const EventView& ev, const StateMap& state,
                    const json::object& create, const ServerSignatureCheck& signed_by) {
  auto membership = str_at(*ev.content, "membership");
  if (!ev.state_key || !membership) {
    return deny("4.1", "m.room.member needs a state_key and content.membership");
  }
  // 4.2: an authorising server named in content must have signed the event.
  if (const json::value* via = ev.content->if_contains("join_authorised_via_users_server")) {
    std::string_view server = via->is_string() && is_valid_user_id(via->get_string())
                                  ? server_name_of(via->get_string())
                                  : std::string_view{};
    bool valid = false;
    if (!server.empty() && signed_by) {
      valid = signed_by(event, server);
    } else if (!server.empty()) {
      const json::object* sigs = obj_at(event, "signatures");
      const json::object* from = sigs != nullptr ? obj_at(*sigs, server) : nullptr;
      valid = from != nullptr && !from->empty();
    }
    if (!valid) {
      return deny("4.2", "event is not signed by the join_authorised_via_users_server's server");
    }
  }
  PowerLevels pl = PowerLevels::from_state(state);
  MemberContext m{event,
                  ev,
                  state,
                  pl,
                  *ev.state_key,
                  membership_of(state, ev.sender),
                  membership_of(state, *ev.state_key)};
  if (*membership == "join") return check_join(m, create);
  if (*membership == "invite") return check_invite(m);
  if (*membership == "leave") return check_leave(m);
  if (*membership == "ban") return check_ban(m);
  if (*membership == "knock") return check_knock(m);
  return deny("4.8", "unknown membership '" + std::string(*membership) + "'");
}

// ---- m.room.power_levels (rule 9) ----

constexpr std::array<std::string_view, 7> kScalarLevels = {
    "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"};

// A power level entry that may be absent; "added", "changed" and "removed" compare these.
struct Level {
  bool present = false;
  int64_t value = 0;
  bool operator==(const Level&) const = default;
  bool above(int64_t level) const { return present && value > level; }
  static Level of(std::optional<int64_t> v) { return v ? Level{true, *v} : Level{}; }
};

// Rules 9.1-9.3: new power levels must be integers (no strings from v10 on).
Status validate_power_levels_content(const json::object& content) {
  for (std::string_view key : kScalarLevels) {
    const json::value* v = content.if_contains(key);
    if (v != nullptr && !strict_power_level(*v)) {
      return deny("9.1", "power level '" + std::string(key) + "' is not an integer");
    }
  }
  for (std::string_view key : {std::string_view("events"), std::string_view("notifications")}) {
    const json::value* v = content.if_contains(key);
    if (v == nullptr) continue;
    bool valid = v->is_object();
    if (valid) {
      for (const auto& kv : v->get_object()) valid = valid && strict_power_level(kv.value());
    }
    if (!valid) return deny("9.2", "'" + std::string(key) + "' is not an object of integers");
  }
  // Absent users is accepted: the rule constrains the property's shape when it is present.
  if (const json::value* users = content.if_contains("users")) {
    bool valid = users->is_object();
    if (valid) {
      for (const auto& [user, level] : users->get_object()) {
        valid = valid && is_valid_user_id(user) && strict_power_level(level);
      }
    }
    if (!valid) return deny("9.3", "'users' is not an object of user IDs to integers");
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

Status check_power_levels(const EventView& ev, const StateMap& state, int64_t sender_level) {
  const json::object& next = *ev.content;
  DS_TRY(validate_power_levels_content(next));
  const json::object* current_event = find_state(state, std::string(kPowerLevels));
  if (current_event == nullptr) return ok_status();  // 9.4
  const json::object& current = content_of(*current_event);

  for (std::string_view key : kScalarLevels) {
    const json::value* o = current.if_contains(key);
    const json::value* n = next.if_contains(key);
    Level before = o != nullptr ? Level::of(lenient_power_level(*o)) : Level{};
    Level after = n != nullptr ? Level::of(strict_power_level(*n)) : Level{};
    if (before == after) continue;
    std::string what = "'" + std::string(key) + "'";
    if (before.above(sender_level))
      return deny("9.5.1", "cannot change " + what + " from above own level");
    if (after.above(sender_level)) return deny("9.5.2", "cannot set " + what + " above own level");
  }
  for (std::string_view map_key : {std::string_view("events"), std::string_view("notifications")}) {
    for (const LevelChange& c : changes_in(current, next, map_key)) {
      std::string what = std::string(map_key) + "." + c.key;
      if (c.before.above(sender_level))
        return deny("9.6.1", "cannot change " + what + " from above own level");
      if (c.after.above(sender_level))
        return deny("9.7.1", "cannot set " + what + " above own level");
    }
  }
  for (const LevelChange& c : changes_in(current, next, "users")) {
    if (c.key != ev.sender && c.before.present && c.before.value >= sender_level) {
      return deny("9.8.1", "cannot change the level of " + c.key + ", who is not below the sender");
    }
    if (c.after.above(sender_level)) {
      return deny("9.9.1", "cannot give " + c.key + " a level above the sender's own");
    }
  }
  return ok_status();
}

// ---- m.room.create (rule 1) ----

Status check_create(const json::object& event, const EventView& ev, std::string_view room_version) {
  if (const json::value* prev = event.if_contains("prev_events");
      prev != nullptr && !(prev->is_array() && prev->get_array().empty())) {
    return deny("1.1", "m.room.create must not have prev_events");
  }
  std::string_view room_domain = server_name_of(ev.room_id);
  if (room_domain.empty() || room_domain != server_name_of(ev.sender)) {
    return deny("1.2", "room_id domain does not match the sender's domain");
  }
  if (const json::value* v = ev.content->if_contains("room_version");
      v != nullptr && !(v->is_string() && is_supported_room_version(v->get_string()))) {
    return deny("1.3", "content.room_version is not a recognised room version");
  }
  if (room_version == "10" && !ev.content->contains("creator")) {
    return deny("1.4", "m.room.create content has no creator");
  }
  return ok_status();
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

std::vector<StateKey> auth_state_keys(const json::object& event) {
  std::vector<StateKey> keys;
  auto add = [&keys](std::string_view type, std::string_view state_key) {
    StateKey key{std::string(type), std::string(state_key)};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
  };
  auto type = str_at(event, "type");
  if (type == kCreate) return keys;
  add(kCreate, "");
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
  if (membership == "join") {
    if (auto via = str_at(content, "join_authorised_via_users_server")) add(kMember, *via);
  }
  return keys;
}

Status check_auth_events(const json::object& event, const std::vector<json::object>& auth_events) {
  if (str_at(event, "type") == kCreate) return ok_status();
  std::vector<StateKey> selected = auth_state_keys(event);
  std::set<StateKey> seen;
  bool has_create = false;
  for (const json::object& auth_event : auth_events) {
    auto type = str_at(auth_event, "type");
    auto state_key = str_at(auth_event, "state_key");
    if (!type || !state_key) return deny("2.2", "an auth event is not a state event");
    StateKey key{std::string(*type), std::string(*state_key)};
    if (!seen.insert(key).second) {
      return deny("2.1", "duplicate auth event for (" + key.first + ", " + key.second + ")");
    }
    if (std::find(selected.begin(), selected.end(), key) == selected.end()) {
      return deny("2.2", "auth event (" + key.first + ", " + key.second +
                             ") is not in the auth events selection");
    }
    has_create = has_create || *type == kCreate;
    if (str_at(auth_event, "room_id") != str_at(event, "room_id")) {
      return deny("2.5", "an auth event belongs to a different room");
    }
  }
  if (!has_create) return deny("2.4", "auth events contain no m.room.create event");
  return ok_status();
}

Status check_event_auth(const json::object& event, const StateMap& auth_state,
                        std::string_view room_version, const ServerSignatureCheck& signed_by) {
  if (room_version != "10" && room_version != "11") {
    return Error::make(400, errc::kUnsupportedRoomVersion,
                       "unsupported room version '" + std::string(room_version) + "'");
  }
  DS_ASSIGN(EventView ev, view_of(event));
  if (ev.type == kCreate) return check_create(event, ev, room_version);  // rule 1

  // Rule 2, as far as a state map can express it.
  const json::object* create = find_state(auth_state, std::string(kCreate));
  if (create == nullptr) return deny("2.4", "no m.room.create event in the auth state");
  for (const StateKey& key : auth_state_keys(event)) {
    auto it = auth_state.find(key);
    if (it != auth_state.end() && str_at(it->second, "room_id") != ev.room_id) {
      return deny("2.5",
                  "auth event (" + key.first + ", " + key.second + ") belongs to a different room");
    }
  }
  // Rule 3: non-federating rooms stay on the creator's server.
  if (const json::value* federate = content_of(*create).if_contains("m.federate");
      federate != nullptr && federate->is_bool() && !federate->get_bool() &&
      server_name_of(ev.sender) != server_name_of(str_at(*create, "sender").value_or(""))) {
    return deny("3", "room does not federate and the sender is from another server");
  }
  if (ev.type == kMember) return check_member(event, ev, auth_state, *create, signed_by);  // 4

  if (membership_of(auth_state, ev.sender) != "join") {
    return deny("5", "sender is not joined to the room");
  }
  PowerLevels pl = PowerLevels::from_state(auth_state);
  int64_t sender_level = pl.user_level(ev.sender);
  if (ev.type == kThirdPartyInvite) {  // rule 6
    if (sender_level >= pl.invite) return ok_status();
    return deny("6.1", "sender's power level is below the invite level");
  }
  if (pl.event_level(ev.type, ev.state_key.has_value()) > sender_level) {
    return deny("7", "sender's power level is too low to send " + std::string(ev.type));
  }
  if (ev.state_key && ev.state_key->starts_with("@") && *ev.state_key != ev.sender) {
    return deny("8", "state_key starting with '@' must be the sender");
  }
  if (ev.type == kPowerLevels) return check_power_levels(ev, auth_state, sender_level);  // 9
  return ok_status();                                                                    // rule 10
}

}  // namespace despatch
