// Devices: each user's logged-in devices (devices). The users domain owns the table; only
// the reads that the keys code needs are here so far.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct DeviceRow {
  std::string user_id, device_id;
  std::optional<std::string> display_name;
};

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;
  // devices: (user_id, device_id) -> device. The devices of these users, by user and
  // device ID.
  virtual Result<std::vector<DeviceRow>> devices_of(const std::vector<std::string>& users) = 0;
  virtual Result<bool> exists(const std::string& user, const std::string& device) = 0;
};

}  // namespace despatch::storage
