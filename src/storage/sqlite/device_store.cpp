#include "storage/sqlite/device_store.h"

#include "storage/sqlite/id_list.h"

namespace despatch::storage {

Result<std::vector<DeviceRow>> SqliteDeviceStore::devices_of(const std::vector<std::string>& users) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, device_id, display_name FROM devices WHERE user_id IN "
                                "(SELECT value FROM json_each(?)) ORDER BY user_id, device_id",
                                {id_list(users)}));
  std::vector<DeviceRow> out;
  for (auto& r : rows) {
    DeviceRow d{r.str(0), r.str(1), std::nullopt};
    if (!r.is_null(2)) d.display_name = r.str(2);
    out.push_back(std::move(d));
  }
  return out;
}

Result<bool> SqliteDeviceStore::exists(const std::string& user, const std::string& device) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM devices WHERE user_id=? AND device_id=?", {user, device}));
  return row.has_value();
}

}  // namespace despatch::storage
