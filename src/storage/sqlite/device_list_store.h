#pragma once

#include "storage/conn.h"
#include "storage/device_list_store.h"

namespace despatch::storage {

class SqliteDeviceListStore final : public DeviceListStore {
 public:
  explicit SqliteDeviceListStore(Conn& c) : c_(c) {}
  Status mark_changed(const std::string& user, int64_t stream_pos, const std::string& device_id) override;
  Result<std::vector<std::string>> changed(int64_t from, int64_t to) override;
  Result<std::vector<DeviceListChange>> changes(int64_t from, int64_t to, int64_t limit) override;
  Result<int64_t> last_device_change(const std::string& user, int64_t before) override;
  Result<std::vector<RemoteDeviceList>> remote_lists(const std::vector<std::string>& users) override;
  Status put_remote_list(const RemoteDeviceList& list, int64_t fetched_ts) override;
  Status put_remote_device(const std::string& user, const RemoteDevice& device) override;
  Status remove_remote_device(const std::string& user, const std::string& device_id) override;
  Status set_remote_stream(const std::string& user, int64_t stream_id, bool stale) override;
  Status put_remote_cross_signing(const std::string& user, const std::string& usage,
                                  const json::object& key) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
