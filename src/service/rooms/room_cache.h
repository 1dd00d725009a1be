// What a room's lane keeps of the room between batches: its current state and where its
// graph ends. Only the lane's own jobs read or change it.
#pragma once

#include "service/rooms/state_map.h"

#include <cstdint>
#include <string>
#include <vector>

namespace despatch {

struct RoomCache {
  std::string version;
  StateMap state;                        // events carry "event_id"
  std::vector<std::string> extremities;  // forward extremities: the next event's prev_events
  int64_t depth = 0;                     // the deepest extremity's depth
  int64_t state_group = 0;               // the state group of `state` (0: empty)
};

}  // namespace despatch
