// Power levels of a room (m.room.power_levels), with the spec defaults applied.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "service/rooms/room_version.h"
#include "service/rooms/state_map.h"

namespace despatch {

// Level the creator gets while the room has no m.room.power_levels event (room versions 1-11).
inline constexpr int64_t kCreatorDefaultLevel = 100;

// The level of a v12 room creator: above every level a power_levels event can hold (those
// stay within +/-(2^53 - 1)), and equal between creators, as "infinitely high" must be.
inline constexpr int64_t kInfinitePowerLevel = std::numeric_limits<int64_t>::max();

// Returns the integer value of a power level entry if it is a JSON integer within the
// canonical range (+/-(2^53 - 1)). This is the strict form room versions 10+ require of new events.
std::optional<int64_t> strict_power_level(const json::value& v);

// Lenient parse for reading stored state: integers, strings of integers as older room
// versions allow ("+100", " 050 "), and floats truncated toward zero. nullopt if unusable.
std::optional<int64_t> lenient_power_level(const json::value& v);

// What `version` accepts in a new power_levels event: integers only from v10 on; integers and
// strings of integers in v1-9; floats as well (truncated) in v1-5, which predate strict
// canonical JSON. nullopt if the value is not acceptable.
std::optional<int64_t> power_level_for_version(const json::value& v, const RoomVersion& version);

// The room version an m.room.create event declares: content.room_version, "1" when absent.
// nullptr when it names a version not in the table.
const RoomVersion* room_version_of_create(const json::object& create_event);

// The creator of a room given its m.room.create event: content.creator for room versions
// that carry it (1-10), the sender from version 11 on. The version is read from the event;
// an unknown version is treated as the newest.
std::string room_creator(const json::object& create_event);

// The room's creators: the one creator of room_creator for v1-11; for v12 the sender plus
// every valid user ID in content.additional_creators, without duplicates.
std::vector<std::string> room_creators(const json::object& create_event,
                                       const RoomVersion& version);

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
  // v12 room creators, at kInfinitePowerLevel whatever `users` says.
  std::set<std::string, std::less<>> creators;

  // Parses a power_levels content leniently (see lenient_power_level); entries that cannot
  // be read fall back to their defaults, as the auth rules already vetted newer events.
  static PowerLevels from_content(const json::object& content);

  // The room's effective levels under `version`: its m.room.power_levels event if present,
  // otherwise the spec defaults, with the room creator (from m.room.create) at level 100 in
  // v1-11. In v12 the creators are at kInfinitePowerLevel either way.
  static PowerLevels from_state(const StateMap& state, const RoomVersion& version);
  // As above, for the version the room's m.room.create event declares (the newest when it has
  // none or an unknown one).
  static PowerLevels from_state(const StateMap& state);

  int64_t user_level(std::string_view user_id) const;
  // Level needed to send an event of `type`; state events fall back to state_default.
  int64_t event_level(std::string_view type, bool is_state) const;
  int64_t notification_level(std::string_view key) const;
};

}  // namespace despatch
