#include "storage/sqlite/device_store.h"

#include "storage/sqlite/id_list.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns = "user_id, device_id, display_name, last_seen_ip, last_seen_ts, created_ts";

DeviceRow device_from_row(const Row& r) {
  DeviceRow d{r.str(0), r.str(1), std::nullopt, std::nullopt, r.i64(4), r.i64(5)};
  if (!r.is_null(2)) d.display_name = r.str(2);
  if (!r.is_null(3)) d.last_seen_ip = r.str(3);
  return d;
}

}  // namespace

Result<std::vector<DeviceRow>> SqliteDeviceStore::devices_of_users(const std::vector<std::string>& users) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns +
                                    " FROM devices WHERE user_id IN (SELECT value FROM json_each(?)) "
                                    "ORDER BY user_id, device_id",
                                {id_list(users)}));
  std::vector<DeviceRow> out;
  for (auto& r : rows) out.push_back(device_from_row(r));
  return out;
}

Result<std::vector<DeviceRow>> SqliteDeviceStore::devices_of(const std::string& user) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM devices WHERE user_id=? ORDER BY device_id",
                                {user}));
  std::vector<DeviceRow> out;
  for (auto& r : rows) out.push_back(device_from_row(r));
  return out;
}

Result<bool> SqliteDeviceStore::exists(const std::string& user, const std::string& device) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM devices WHERE user_id=? AND device_id=?", {user, device}));
  return row.has_value();
}

Result<std::optional<DeviceRow>> SqliteDeviceStore::device(const std::string& user, const std::string& device) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kColumns + " FROM devices WHERE user_id=? AND device_id=?",
                                {user, device}));
  if (!row) return std::optional<DeviceRow>{};
  return std::optional<DeviceRow>(device_from_row(*row));
}

Status SqliteDeviceStore::add_or_touch(const std::string& user, const std::string& device,
                                       const std::optional<std::string>& display_name, int64_t now) {
  return c_.exec("INSERT INTO devices(user_id, device_id, display_name, created_ts, last_seen_ts) "
                 "VALUES(?,?,?,?,?) ON CONFLICT(user_id, device_id) DO UPDATE SET "
                 "last_seen_ts=excluded.last_seen_ts",
                 {user, device, display_name ? Value(*display_name) : Value(nullptr), now, now});
}

Result<bool> SqliteDeviceStore::set_display_name(const std::string& user, const std::string& device,
                                                 const std::string& display_name) {
  DS_TRY(c_.exec("UPDATE devices SET display_name=? WHERE user_id=? AND device_id=?", {display_name, user, device}));
  return c_.changes() > 0;
}

Status SqliteDeviceStore::remove(const std::string& user, const std::string& device) {
  return c_.exec("DELETE FROM devices WHERE user_id=? AND device_id=?", {user, device});
}

}  // namespace despatch::storage
