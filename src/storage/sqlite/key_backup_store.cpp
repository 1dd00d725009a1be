#include "storage/sqlite/key_backup_store.h"

#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Result<int64_t> SqliteKeyBackupStore::create_version(const std::string& user, const std::string& algorithm,
                                                     const json::object& auth_data) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COALESCE(MAX(version), 0) + 1 FROM backup_versions WHERE user_id=?",
                                {user}));
  int64_t v = row->i64(0);
  DS_TRY(c_.exec("INSERT INTO backup_versions(user_id, version, algorithm, auth_data) VALUES(?,?,?,?)",
                 {user, v, algorithm, json::serialize(auth_data)}));
  return v;
}

Result<std::optional<int64_t>> SqliteKeyBackupStore::current_version(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT MAX(version) FROM backup_versions WHERE user_id=? AND deleted=0", {user}));
  if (!row || row->is_null(0)) return std::optional<int64_t>{};
  return std::optional<int64_t>(row->i64(0));
}

Result<std::optional<BackupVersion>> SqliteKeyBackupStore::version(const std::string& user, int64_t version) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT algorithm, auth_data, etag, deleted FROM backup_versions "
                                    "WHERE user_id=? AND version=?",
                                {user, version}));
  if (!row) return std::optional<BackupVersion>{};
  DS_ASSIGN(json::object auth_data, parse_object_column(row->str(1), "backup version"));
  return std::optional<BackupVersion>(
      BackupVersion{version, row->str(0), std::move(auth_data), row->i64(2), row->i64(3) != 0});
}

Status SqliteKeyBackupStore::set_auth_data(const std::string& user, int64_t version, const json::object& auth_data) {
  return c_.exec("UPDATE backup_versions SET auth_data=? WHERE user_id=? AND version=?",
                 {json::serialize(auth_data), user, version});
}

Result<bool> SqliteKeyBackupStore::delete_version(const std::string& user, int64_t version) {
  DS_TRY(c_.exec("UPDATE backup_versions SET deleted=1 WHERE user_id=? AND version=? AND deleted=0", {user, version}));
  if (c_.changes() == 0) return false;
  DS_TRY(c_.exec("DELETE FROM backup_keys WHERE user_id=? AND version=?", {user, version}));
  return true;
}

Status SqliteKeyBackupStore::bump_etag(const std::string& user, int64_t version) {
  return c_.exec("UPDATE backup_versions SET etag=etag+1 WHERE user_id=? AND version=?", {user, version});
}

Result<std::optional<json::object>> SqliteKeyBackupStore::key(const std::string& user, int64_t version,
                                                              const std::string& room_id,
                                                              const std::string& session_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT json FROM backup_keys WHERE user_id=? AND version=? AND room_id=? AND "
                                    "session_id=?",
                                {user, version, room_id, session_id}));
  if (!row) return std::optional<json::object>{};
  DS_ASSIGN(json::object data, parse_object_column(row->str(0), "backup key"));
  return std::optional<json::object>(std::move(data));
}

Status SqliteKeyBackupStore::put_key(const std::string& user, int64_t version, const BackupKey& k) {
  return c_.exec("INSERT INTO backup_keys(user_id, version, room_id, session_id, json) VALUES(?,?,?,?,?) "
                 "ON CONFLICT(user_id, version, room_id, session_id) DO UPDATE SET json=excluded.json",
                 {user, version, k.room_id, k.session_id, json::serialize(k.data)});
}

Result<std::vector<BackupKey>> SqliteKeyBackupStore::keys(const std::string& user, int64_t version,
                                                          const std::string& room_id, const std::string& session_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT room_id, session_id, json FROM backup_keys WHERE user_id=? AND version=? AND "
                                "(?='' OR room_id=?) AND (?='' OR session_id=?) ORDER BY room_id, session_id",
                                {user, version, room_id, room_id, session_id, session_id}));
  std::vector<BackupKey> out;
  for (auto& r : rows) {
    DS_ASSIGN(json::object data, parse_object_column(r.str(2), "backup key"));
    out.push_back({r.str(0), r.str(1), std::move(data)});
  }
  return out;
}

Result<int64_t> SqliteKeyBackupStore::count_keys(const std::string& user, int64_t version) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM backup_keys WHERE user_id=? AND version=?", {user, version}));
  return row ? row->i64(0) : 0;
}

Result<int64_t> SqliteKeyBackupStore::remove_keys(const std::string& user, int64_t version,
                                                  const std::string& room_id, const std::string& session_id) {
  DS_TRY(c_.exec("DELETE FROM backup_keys WHERE user_id=? AND version=? AND (?='' OR room_id=?) AND "
                 "(?='' OR session_id=?)",
                 {user, version, room_id, room_id, session_id, session_id}));
  return c_.changes();
}

}  // namespace despatch::storage
