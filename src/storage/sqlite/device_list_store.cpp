#include "storage/sqlite/device_list_store.h"

#include "storage/sqlite/id_list.h"
#include "storage/sqlite/json_column.h"

#include <map>

namespace despatch::storage {

namespace {

Value nullable(const std::optional<json::object>& o) {
  if (!o) return nullptr;
  return json::serialize(*o);
}

}  // namespace

Status SqliteDeviceListStore::mark_changed(const std::string& user, int64_t stream_pos, const std::string& device_id) {
  Value device = device_id.empty() ? Value(nullptr) : Value(device_id);
  return c_.exec("INSERT INTO device_list_changes(stream_pos, user_id, device_id) VALUES(?,?,?) ON CONFLICT DO NOTHING",
                 {stream_pos, user, device});
}

Result<std::vector<std::string>> SqliteDeviceListStore::changed(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT user_id FROM device_list_changes WHERE stream_pos>? AND "
                                "stream_pos<=? ORDER BY user_id",
                                {from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<std::vector<DeviceListChange>> SqliteDeviceListStore::changes(int64_t from, int64_t to, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT stream_pos, user_id, device_id FROM device_list_changes WHERE stream_pos>? "
                                "AND stream_pos<=? ORDER BY stream_pos LIMIT ?",
                                {from, to, limit}));
  std::vector<DeviceListChange> out;
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.str(2)});
  return out;
}

Result<int64_t> SqliteDeviceListStore::last_device_change(const std::string& user, int64_t before) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT MAX(stream_pos) FROM device_list_changes WHERE user_id=? AND "
                                    "stream_pos<? AND device_id IS NOT NULL",
                                {user, before}));
  return row && !row->is_null(0) ? row->i64(0) : int64_t{0};
}

Result<std::vector<RemoteDeviceList>> SqliteDeviceListStore::remote_lists(const std::vector<std::string>& users) {
  std::string ids = id_list(users);
  DS_ASSIGN(auto lists, c_.query("SELECT user_id, stream_id, stale, master_key, self_signing_key FROM "
                                 "remote_device_lists WHERE user_id IN (SELECT value FROM json_each(?)) "
                                 "ORDER BY user_id",
                                 {ids}));
  std::vector<RemoteDeviceList> out;
  std::map<std::string, size_t> index;
  for (auto& r : lists) {
    RemoteDeviceList l;
    l.user_id = r.str(0);
    l.stream_id = r.i64(1);
    l.stale = r.i64(2) != 0;
    for (auto [col, dst] : {std::pair{3, &l.master_key}, std::pair{4, &l.self_signing_key}}) {
      if (r.is_null(col)) continue;
      DS_ASSIGN(json::object k, parse_object_column(r.str(col), "remote cross-signing key"));
      *dst = std::move(k);
    }
    index[l.user_id] = out.size();
    out.push_back(std::move(l));
  }
  DS_ASSIGN(auto devices, c_.query("SELECT user_id, device_id, keys, display_name FROM remote_devices WHERE "
                                   "user_id IN (SELECT value FROM json_each(?)) ORDER BY user_id, device_id",
                                   {ids}));
  for (auto& r : devices) {
    auto it = index.find(r.str(0));
    if (it == index.end()) continue;
    DS_ASSIGN(json::object keys, parse_object_column(r.str(2), "remote device keys"));
    RemoteDevice d{r.str(1), std::move(keys), std::nullopt};
    if (!r.is_null(3)) d.display_name = r.str(3);
    out[it->second].devices.push_back(std::move(d));
  }
  return out;
}

Status SqliteDeviceListStore::put_remote_list(const RemoteDeviceList& list, int64_t fetched_ts) {
  DS_TRY(c_.exec("INSERT INTO remote_device_lists(user_id, stream_id, stale, master_key, self_signing_key, fetched_ts) "
                 "VALUES(?,?,0,?,?,?) ON CONFLICT(user_id) DO UPDATE SET stream_id=excluded.stream_id, stale=0, "
                 "master_key=excluded.master_key, self_signing_key=excluded.self_signing_key, "
                 "fetched_ts=excluded.fetched_ts",
                 {list.user_id, list.stream_id, nullable(list.master_key), nullable(list.self_signing_key),
                  fetched_ts}));
  DS_TRY(c_.exec("DELETE FROM remote_devices WHERE user_id=?", {list.user_id}));
  for (auto& d : list.devices) DS_TRY(put_remote_device(list.user_id, d));
  return ok_status();
}

Status SqliteDeviceListStore::put_remote_device(const std::string& user, const RemoteDevice& d) {
  Value name = d.display_name ? Value(*d.display_name) : Value(nullptr);
  return c_.exec("INSERT INTO remote_devices(user_id, device_id, keys, display_name) VALUES(?,?,?,?) "
                 "ON CONFLICT(user_id, device_id) DO UPDATE SET keys=excluded.keys, display_name=excluded.display_name",
                 {user, d.device_id, json::serialize(d.keys), name});
}

Status SqliteDeviceListStore::remove_remote_device(const std::string& user, const std::string& device_id) {
  return c_.exec("DELETE FROM remote_devices WHERE user_id=? AND device_id=?", {user, device_id});
}

Status SqliteDeviceListStore::set_remote_stream(const std::string& user, int64_t stream_id, bool stale) {
  return c_.exec("UPDATE remote_device_lists SET stream_id=?, stale=? WHERE user_id=?",
                 {stream_id, int64_t{stale ? 1 : 0}, user});
}

Status SqliteDeviceListStore::put_remote_cross_signing(const std::string& user, const std::string& usage,
                                                       const json::object& key) {
  if (usage == "master")
    return c_.exec("UPDATE remote_device_lists SET master_key=? WHERE user_id=?", {json::serialize(key), user});
  if (usage == "self_signing")
    return c_.exec("UPDATE remote_device_lists SET self_signing_key=? WHERE user_id=?", {json::serialize(key), user});
  return Error::internal("unknown cross-signing usage " + usage);
}

}  // namespace despatch::storage
