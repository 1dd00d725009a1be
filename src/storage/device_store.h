// Devices: each user's logged-in devices (devices), owned by the users domain; their keys
// live with the keys domain's stores.
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
  std::optional<std::string> last_seen_ip;
  int64_t last_seen_ts = 0;  // 0: never seen
  int64_t created_ts = 0;
};

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;
  // devices: (user_id, device_id) -> device. The devices of these users, by user and
  // device ID.
  virtual Result<std::vector<DeviceRow>> devices_of_users(const std::vector<std::string>& users) = 0;
  // The user's devices, by device ID.
  virtual Result<std::vector<DeviceRow>> devices_of(const std::string& user) = 0;
  virtual Result<bool> exists(const std::string& user, const std::string& device) = 0;
  virtual Result<std::optional<DeviceRow>> device(const std::string& user, const std::string& device) = 0;
  // A login on the device: adds it (with display_name, created and last seen at now), or,
  // when the user has it already, only moves its last_seen_ts to now.
  virtual Status add_or_touch(const std::string& user, const std::string& device,
                              const std::optional<std::string>& display_name, int64_t now) = 0;
  // False when the user has no such device.
  virtual Result<bool> set_display_name(const std::string& user, const std::string& device,
                                        const std::string& display_name) = 0;
  virtual Status remove(const std::string& user, const std::string& device) = 0;
};

}  // namespace despatch::storage
