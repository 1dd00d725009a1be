// Device list changes: the stream positions at which a user's devices or keys changed
// (device_list_changes), which /sync and /keys/changes report to users sharing a room.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <string>
#include <vector>

namespace despatch::storage {

class DeviceListStore {
 public:
  virtual ~DeviceListStore() = default;
  // device_list_changes: (stream_pos, user_id), one row per change.
  virtual Status mark_changed(const std::string& user, int64_t stream_pos) = 0;
  // Users whose device list changed in (from, to], each once.
  virtual Result<std::vector<std::string>> changed(int64_t from, int64_t to) = 0;
};

}  // namespace despatch::storage
