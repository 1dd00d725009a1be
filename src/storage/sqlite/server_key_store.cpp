#include "storage/sqlite/server_key_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kKeyColumns = "server_name, key_id, key, valid_until_ts, expired_ts, fetched_ts";

ServerKey key_from(const Row& r) {
  ServerKey k{r.str(0), r.str(1), r.str(2), r.i64(3), std::nullopt, r.i64(5)};
  if (!r.is_null(4)) k.expired_ts = r.i64(4);
  return k;
}

Value nullable(const std::optional<int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

}  // namespace

Status SqliteServerKeyStore::put_key(const ServerKey& k) {
  return c_.exec("INSERT INTO server_keys(server_name, key_id, key, valid_until_ts, expired_ts, fetched_ts) "
                 "VALUES(?,?,?,?,?,?) ON CONFLICT(server_name, key_id) DO UPDATE SET key=excluded.key, "
                 "valid_until_ts=excluded.valid_until_ts, expired_ts=excluded.expired_ts, fetched_ts=excluded.fetched_ts",
                 {k.server_name, k.key_id, k.key, k.valid_until_ts, nullable(k.expired_ts), k.fetched_ts});
}

Result<std::optional<ServerKey>> SqliteServerKeyStore::key(const std::string& server_name, const std::string& key_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kKeyColumns +
                                        " FROM server_keys WHERE server_name=? AND key_id=?",
                                {server_name, key_id}));
  if (!row) return std::optional<ServerKey>{};
  return std::optional<ServerKey>(key_from(*row));
}

Result<std::vector<ServerKey>> SqliteServerKeyStore::keys_of(const std::string& server_name) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kKeyColumns +
                                    " FROM server_keys WHERE server_name=? ORDER BY key_id",
                                {server_name}));
  std::vector<ServerKey> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(key_from(r));
  return out;
}

Status SqliteServerKeyStore::put_response(const ServerKeyResponse& r) {
  return c_.exec("INSERT INTO server_key_responses(server_name, json, valid_until_ts, fetched_ts) VALUES(?,?,?,?) "
                 "ON CONFLICT(server_name) DO UPDATE SET json=excluded.json, "
                 "valid_until_ts=excluded.valid_until_ts, fetched_ts=excluded.fetched_ts",
                 {r.server_name, r.json, r.valid_until_ts, r.fetched_ts});
}

Result<std::optional<ServerKeyResponse>> SqliteServerKeyStore::response(const std::string& server_name) {
  DS_ASSIGN(auto row, query_one(c_,
                                "SELECT server_name, json, valid_until_ts, fetched_ts FROM server_key_responses "
                                "WHERE server_name=?",
                                {server_name}));
  if (!row) return std::optional<ServerKeyResponse>{};
  return std::optional<ServerKeyResponse>(ServerKeyResponse{row->str(0), row->str(1), row->i64(2), row->i64(3)});
}

}  // namespace despatch::storage
