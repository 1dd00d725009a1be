#pragma once

#include "storage/conn.h"
#include "storage/device_list_store.h"

namespace despatch::storage {

class SqliteDeviceListStore final : public DeviceListStore {
 public:
  explicit SqliteDeviceListStore(Conn& c) : c_(c) {}
  Status mark_changed(const std::string& user, int64_t stream_pos) override;
  Result<std::vector<std::string>> changed(int64_t from, int64_t to) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
