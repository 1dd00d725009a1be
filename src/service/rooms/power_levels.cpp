#include "service/rooms/power_levels.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/canonical_json.h"

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

std::string room_creator(const json::object& create_event) {
  const json::object* content = nullptr;
  if (const json::value* c = create_event.if_contains("content"); c && c->is_object()) {
    content = &c->get_object();
  }
  std::string_view version = "1";  // an absent room_version means version 1
  if (content != nullptr) {
    if (const json::value* v = content->if_contains("room_version"); v && v->is_string()) {
      version = v->get_string();
    }
  }
  // Versions 1-10 name the creator in content; later ones rely on the sender alone.
  static constexpr std::array<std::string_view, 10> kVersionsWithCreatorField = {
      "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
  bool has_field = std::find(kVersionsWithCreatorField.begin(), kVersionsWithCreatorField.end(),
                             version) != kVersionsWithCreatorField.end();
  const json::value* who = nullptr;
  if (has_field) {
    who = content != nullptr ? content->if_contains("creator") : nullptr;
  } else {
    who = create_event.if_contains("sender");
  }
  return who != nullptr && who->is_string() ? std::string(who->get_string()) : std::string();
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

PowerLevels PowerLevels::from_state(const StateMap& state) {
  if (const json::object* ev = find_state(state, "m.room.power_levels")) {
    const json::value* content = ev->if_contains("content");
    return from_content(content != nullptr && content->is_object() ? content->get_object()
                                                                   : json::object{});
  }
  PowerLevels pl;
  if (const json::object* create = find_state(state, "m.room.create")) {
    std::string creator = room_creator(*create);
    if (!creator.empty()) pl.users.emplace(std::move(creator), kCreatorDefaultLevel);
  }
  return pl;
}

int64_t PowerLevels::user_level(std::string_view user_id) const {
  return lookup(users, user_id, users_default);
}

int64_t PowerLevels::event_level(std::string_view type, bool is_state) const {
  return lookup(events, type, is_state ? state_default : events_default);
}

int64_t PowerLevels::notification_level(std::string_view key) const {
  return lookup(notifications, key, 50);
}

}  // namespace despatch
