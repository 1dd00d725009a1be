// Room state: the state before and after every event (state groups, stored as deltas with
// a whole state now and then), and the current state of each room, (type, state_key) -> event.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace despatch::storage {

struct StateEntry {
  std::string type, state_key, event_id;
  int64_t stream_pos = 0;
};

// One change of a state group over the previous one; an empty event_id removes the key.
struct StateDelta {
  std::string type, state_key, event_id;
};

// A whole room state as event IDs: (type, state_key) -> event_id.
using StateIds = std::map<std::pair<std::string, std::string>, std::string>;

// The state groups of an event: before it and after it (equal for non-state events).
struct EventStateGroups {
  int64_t before = 0, after = 0;  // 0: the empty state (before a create event)
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // state_groups, state_group_entries: a new group, prev_group (0: none) changed by delta.
  // The store keeps whole states now and then so that reading one stays short (see the
  // implementation's kMaxDeltaChain).
  virtual Result<int64_t> add_group(const std::string& room_id, int64_t prev_group,
                                    const std::vector<StateDelta>& delta) = 0;
  virtual Result<StateIds> group_state(int64_t group) = 0;
  // event_state: the groups before and after each event.
  virtual Status set_event_groups(const std::string& event_id, const EventStateGroups& groups) = 0;
  virtual Result<std::optional<EventStateGroups>> event_groups(const std::string& event_id) = 0;

  // current_state: the room's current state, kept whole for fast reads.
  virtual Status set_current(const std::string& room_id, const StateEntry& e) = 0;
  virtual Result<std::vector<StateEntry>> current(const std::string& room_id) = 0;
  virtual Result<std::optional<StateEntry>> current_entry(const std::string& room_id, const std::string& type,
                                                          const std::string& state_key) = 0;
};

}  // namespace despatch::storage
