// Room state: the current state of each room, (type, state_key) -> event.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct StateEntry {
  std::string type, state_key, event_id;
  int64_t stream_pos = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Status set_current(const std::string& room_id, const StateEntry& e) = 0;
  virtual Result<std::vector<StateEntry>> current(const std::string& room_id) = 0;
  virtual Result<std::optional<StateEntry>> current_entry(const std::string& room_id, const std::string& type,
                                                          const std::string& state_key) = 0;
};

}  // namespace despatch::storage
