// Power levels of a room (m.room.power_levels), with the spec defaults applied.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "service/rooms/state_map.h"

namespace despatch {

// Level the creator gets while the room has no m.room.power_levels event (room versions 1-11).
inline constexpr int64_t kCreatorDefaultLevel = 100;

// Returns the integer value of a power level entry if it is a JSON integer within the
// canonical range (+/-(2^53 - 1)). This is the strict form room versions 10+ require of new events.
std::optional<int64_t> strict_power_level(const json::value& v);

// Lenient parse for reading stored state: integers, strings of integers as older room
// versions allow ("+100", " 050 "), and floats truncated toward zero. nullopt if unusable.
std::optional<int64_t> lenient_power_level(const json::value& v);

// The creator of a room given its m.room.create event: content.creator for room versions
// that carry it (1-10), the sender from version 11 on. The version is read from the event.
std::string room_creator(const json::object& create_event);

struct PowerLevels {
  using LevelMap = std::map<std::string, int64_t, std::less<>>;

  LevelMap users;
  int64_t users_default = 0;
  LevelMap events;
  int64_t events_default = 0;
  int64_t state_default = 50;
  int64_t ban = 50;
  int64_t kick = 50;
  int64_t invite = 0;
  int64_t redact = 50;
  LevelMap notifications;  // "room" (and any unlisted key) defaults to 50

  // Parses a power_levels content leniently (see lenient_power_level); entries that cannot
  // be read fall back to their defaults, as the auth rules already vetted newer events.
  static PowerLevels from_content(const json::object& content);

  // The room's effective levels: its m.room.power_levels event if present, otherwise the
  // spec defaults with the room creator (from m.room.create) at level 100.
  static PowerLevels from_state(const StateMap& state);

  int64_t user_level(std::string_view user_id) const;
  // Level needed to send an event of `type`; state events fall back to state_default.
  int64_t event_level(std::string_view type, bool is_state) const;
  int64_t notification_level(std::string_view key) const;
};

}  // namespace despatch
