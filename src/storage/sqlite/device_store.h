#pragma once

#include "storage/conn.h"
#include "storage/device_store.h"

namespace despatch::storage {

class SqliteDeviceStore final : public DeviceStore {
 public:
  explicit SqliteDeviceStore(Conn& c) : c_(c) {}
  Result<std::vector<DeviceRow>> devices_of_users(const std::vector<std::string>& users) override;
  Result<std::vector<DeviceRow>> devices_of(const std::string& user) override;
  Result<bool> exists(const std::string& user, const std::string& device) override;
  Result<std::optional<DeviceRow>> device(const std::string& user, const std::string& device) override;
  Status add_or_touch(const std::string& user, const std::string& device,
                      const std::optional<std::string>& display_name, int64_t now) override;
  Result<bool> set_display_name(const std::string& user, const std::string& device,
                                const std::string& display_name) override;
  Status remove(const std::string& user, const std::string& device) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
