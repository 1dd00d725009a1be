#include "storage/sqlite/to_device_store.h"

#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Status SqliteToDeviceStore::add(const NewToDeviceMessage& m) {
  return c_.exec("INSERT INTO to_device(stream_pos, user_id, device_id, sender, type, bytes, content) "
                 "VALUES(?,?,?,?,?,?,?)",
                 {m.stream_pos, m.user_id, m.device_id, m.sender, m.type, static_cast<int64_t>(m.content.size()),
                  m.content});
}

Result<ToDeviceBacklog> SqliteToDeviceStore::backlog(const std::string& user, const std::string& device,
                                                     const std::string& sender) {
  // Counted from the to_device_sender index alone.
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM to_device "
                                    "WHERE user_id=? AND device_id=? AND sender=?",
                                {user, device, sender}));
  if (!row) return ToDeviceBacklog{};
  return ToDeviceBacklog{row->i64(0), row->i64(1)};
}

Result<std::vector<ToDeviceSize>> SqliteToDeviceStore::sizes(const std::string& user, const std::string& device,
                                                             int64_t after, int64_t upto, int64_t limit) {
  // bytes precedes content in the row, so large contents are not read.
  DS_ASSIGN(auto rows, c_.query("SELECT stream_pos, bytes FROM to_device WHERE user_id=? AND device_id=? AND "
                                "stream_pos>? AND stream_pos<=? ORDER BY stream_pos LIMIT ?",
                                {user, device, after, upto, limit}));
  std::vector<ToDeviceSize> out;
  for (auto& r : rows) out.push_back({r.i64(0), r.i64(1)});
  return out;
}

Result<std::vector<ToDeviceMessage>> SqliteToDeviceStore::messages(const std::string& user, const std::string& device,
                                                                   int64_t after, int64_t upto) {
  DS_ASSIGN(auto rows, c_.query("SELECT stream_pos, sender, type, content FROM to_device WHERE user_id=? AND "
                                "device_id=? AND stream_pos>? AND stream_pos<=? ORDER BY stream_pos",
                                {user, device, after, upto}));
  std::vector<ToDeviceMessage> out;
  for (auto& r : rows) {
    DS_ASSIGN(json::object content, parse_object_column(r.str(3), "to-device message"));
    out.push_back({r.i64(0), r.str(1), r.str(2), std::move(content)});
  }
  return out;
}

Result<bool> SqliteToDeviceStore::any_upto(const std::string& user, const std::string& device, int64_t upto) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM to_device WHERE user_id=? AND device_id=? AND stream_pos<=? LIMIT 1",
                                {user, device, upto}));
  return row.has_value();
}

Status SqliteToDeviceStore::remove_upto(const std::string& user, const std::string& device, int64_t upto) {
  return c_.exec("DELETE FROM to_device WHERE user_id=? AND device_id=? AND stream_pos<=?", {user, device, upto});
}

Status SqliteToDeviceStore::remove_device(const std::string& user, const std::string& device) {
  return c_.exec("DELETE FROM to_device WHERE user_id=? AND device_id=?", {user, device});
}

Result<bool> SqliteToDeviceStore::has_txn(const std::string& user, const std::string& device,
                                          const std::string& txn_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM to_device_txns WHERE user_id=? AND device_id=? AND txn_id=?",
                                {user, device, txn_id}));
  return row.has_value();
}

Status SqliteToDeviceStore::put_txn(const std::string& user, const std::string& device, const std::string& txn_id) {
  return c_.exec("INSERT INTO to_device_txns(user_id, device_id, txn_id) VALUES(?,?,?)", {user, device, txn_id});
}

}  // namespace despatch::storage
