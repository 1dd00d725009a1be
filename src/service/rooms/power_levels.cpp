#include "service/rooms/power_levels.h"

#include <algorithm>
#include <cmath>

#include "core/canonical_json.h"
#include "core/ids.h"

namespace despatch {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool in_canonical_range(int64_t v) { return v >= -kMaxCanonicalInt && v <= kMaxCanonicalInt; }

// Older room versions allow "[ws][+-]digits[ws]" with any number of leading zeros.
std::optional<int64_t> parse_level_string(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > kMaxCanonicalInt) return std::nullopt;  // also keeps the multiply from overflowing
  }
  return negative ? -v : v;
}

void read_level(const json::object& content, std::string_view key, int64_t& out) {
  if (const json::value* v = content.if_contains(key)) {
    if (auto level = lenient_power_level(*v)) out = *level;
  }
}

void read_level_map(const json::object& content, std::string_view key, PowerLevels::LevelMap& out) {
  const json::value* v = content.if_contains(key);
  if (v == nullptr || !v->is_object()) return;
  for (const auto& [name, value] : v->get_object()) {
    if (auto level = lenient_power_level(value)) out.emplace(std::string(name), *level);
  }
}

int64_t lookup(const PowerLevels::LevelMap& map, std::string_view key, int64_t fallback) {
  auto it = map.find(key);
  return it == map.end() ? fallback : it->second;
}

}  // namespace

std::optional<int64_t> strict_power_level(const json::value& v) {
  if (v.is_int64() && in_canonical_range(v.get_int64())) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(kMaxCanonicalInt)) {
    return static_cast<int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

std::optional<int64_t> lenient_power_level(const json::value& v) {
  if (auto level = strict_power_level(v)) return level;
  if (v.is_string()) return parse_level_string(v.get_string());
  if (v.is_double()) {
    double d = std::trunc(v.get_double());
    if (!std::isfinite(d) || d < static_cast<double>(-kMaxCanonicalInt) ||
        d > static_cast<double>(kMaxCanonicalInt)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<int64_t> power_level_for_version(const json::value& v, const RoomVersion& version) {
  if (auto level = strict_power_level(v)) return level;
  if (version.integer_power_levels) return std::nullopt;
  if (v.is_string()) return parse_level_string(v.get_string());
  if (v.is_double() && !version.strict_canonical_json) return lenient_power_level(v);
  return std::nullopt;
}

const RoomVersion* room_version_of_create(const json::object& create_event) {
  const json::value* c = create_event.if_contains("content");
  const json::value* v =
      c != nullptr && c->is_object() ? c->get_object().if_contains("room_version") : nullptr;
  if (v == nullptr) return find_room_version("1");  // an absent room_version means version 1
  return v->is_string() ? find_room_version(v->get_string()) : nullptr;
}

namespace {

const RoomVersion& version_or_latest(const json::object& create_event) {
  const RoomVersion* v = room_version_of_create(create_event);
  return v != nullptr ? *v : latest_room_version();
}

std::string creator_for(const json::object& create_event, const RoomVersion& version) {
  const json::value* who = nullptr;
  if (version.create_has_creator) {
    const json::value* c = create_event.if_contains("content");
    who = c != nullptr && c->is_object() ? c->get_object().if_contains("creator") : nullptr;
  } else {
    who = create_event.if_contains("sender");
  }
  return who != nullptr && who->is_string() ? std::string(who->get_string()) : std::string();
}

}  // namespace

std::string room_creator(const json::object& create_event) {
  return creator_for(create_event, version_or_latest(create_event));
}

std::vector<std::string> room_creators(const json::object& create_event,
                                       const RoomVersion& version) {
  std::vector<std::string> out;
  std::string first = creator_for(create_event, version);
  if (!first.empty()) out.push_back(std::move(first));
  if (!version.infinite_creators) return out;
  const json::value* c = create_event.if_contains("content");
  const json::value* extra =
      c != nullptr && c->is_object() ? c->get_object().if_contains("additional_creators") : nullptr;
  if (extra == nullptr || !extra->is_array()) return out;
  for (const json::value& u : extra->get_array()) {
    if (!u.is_string() || !is_valid_user_id(u.get_string())) continue;
    if (std::find(out.begin(), out.end(), u.get_string()) == out.end()) {
      out.emplace_back(u.get_string());
    }
  }
  return out;
}

PowerLevels PowerLevels::from_content(const json::object& content) {
  PowerLevels pl;
  read_level_map(content, "users", pl.users);
  read_level(content, "users_default", pl.users_default);
  read_level_map(content, "events", pl.events);
  read_level(content, "events_default", pl.events_default);
  read_level(content, "state_default", pl.state_default);
  read_level(content, "ban", pl.ban);
  read_level(content, "kick", pl.kick);
  read_level(content, "invite", pl.invite);
  read_level(content, "redact", pl.redact);
  read_level_map(content, "notifications", pl.notifications);
  return pl;
}

PowerLevels PowerLevels::from_state(const StateMap& state, const RoomVersion& version) {
  const json::object* create = find_state(state, "m.room.create");
  PowerLevels pl;
  if (const json::object* ev = find_state(state, "m.room.power_levels")) {
    const json::value* content = ev->if_contains("content");
    pl = from_content(content != nullptr && content->is_object() ? content->get_object()
                                                                 : json::object{});
  } else if (create != nullptr && !version.infinite_creators) {
    std::string creator = creator_for(*create, version);
    if (!creator.empty()) pl.users.emplace(std::move(creator), kCreatorDefaultLevel);
  }
  if (create != nullptr && version.infinite_creators) {
    for (std::string& c : room_creators(*create, version)) pl.creators.insert(std::move(c));
  }
  return pl;
}

PowerLevels PowerLevels::from_state(const StateMap& state) {
  const json::object* create = find_state(state, "m.room.create");
  return from_state(state, create != nullptr ? version_or_latest(*create) : latest_room_version());
}

int64_t PowerLevels::user_level(std::string_view user_id) const {
  if (creators.contains(user_id)) return kInfinitePowerLevel;
  return lookup(users, user_id, users_default);
}

int64_t PowerLevels::event_level(std::string_view type, bool is_state) const {
  return lookup(events, type, is_state ? state_default : events_default);
}

int64_t PowerLevels::notification_level(std::string_view key) const {
  return lookup(notifications, key, 50);
}

}  // namespace despatch
