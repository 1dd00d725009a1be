#pragma once

#include "storage/conn.h"
#include "storage/device_store.h"

namespace despatch::storage {

class SqliteDeviceStore final : public DeviceStore {
 public:
  explicit SqliteDeviceStore(Conn& c) : c_(c) {}
  Result<std::vector<DeviceRow>> devices_of(const std::vector<std::string>& users) override;
  Result<bool> exists(const std::string& user, const std::string& device) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
