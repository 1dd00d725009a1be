#include "storage/sqlite/device_list_store.h"

namespace despatch::storage {

Status SqliteDeviceListStore::mark_changed(const std::string& user, int64_t stream_pos) {
  return c_.exec("INSERT INTO device_list_changes(stream_pos, user_id) VALUES(?,?) ON CONFLICT DO NOTHING",
                 {stream_pos, user});
}

Result<std::vector<std::string>> SqliteDeviceListStore::changed(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT user_id FROM device_list_changes WHERE stream_pos>? AND "
                                "stream_pos<=? ORDER BY user_id",
                                {from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

}  // namespace despatch::storage
