#include "storage/sqlite/device_key_store.h"

#include "storage/sqlite/id_list.h"
#include "storage/sqlite/json_column.h"

namespace despatch::storage {

namespace {

// The device's curve25519 identity key from its keys object, NULL when it has none.
Value identity_key(const json::object& keys, const std::string& device) {
  auto* all = keys.if_contains("keys");
  auto* curve = all && all->is_object() ? all->as_object().if_contains("curve25519:" + device) : nullptr;
  if (!curve || !curve->is_string()) return nullptr;
  return std::string(curve->as_string());
}

Result<std::vector<DeviceKeys>> device_keys_rows(const Rows& rows) {
  std::vector<DeviceKeys> out;
  for (auto& r : rows) {
    DS_ASSIGN(json::object keys, parse_object_column(r.str(2), "device keys"));
    out.push_back({r.str(0), r.str(1), std::move(keys)});
  }
  return out;
}

Result<std::optional<FallbackKey>> fallback_row(const std::optional<Row>& row, const std::string& algorithm) {
  if (!row) return std::optional<FallbackKey>{};
  DS_ASSIGN(json::value key, parse_value_column(row->str(1), "fallback key"));
  return std::optional<FallbackKey>(FallbackKey{algorithm, row->str(0), std::move(key), row->i64(2) != 0});
}

}  // namespace

Result<std::optional<json::object>> SqliteDeviceKeyStore::device_keys(const std::string& user,
                                                                      const std::string& device) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT json FROM device_keys WHERE user_id=? AND device_id=?", {user, device}));
  if (!row) return std::optional<json::object>{};
  DS_ASSIGN(json::object keys, parse_object_column(row->str(0), "device keys"));
  return std::optional<json::object>(std::move(keys));
}

Result<std::vector<DeviceKeys>> SqliteDeviceKeyStore::device_keys_of(const std::vector<std::string>& users) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, device_id, json FROM device_keys WHERE user_id IN "
                                "(SELECT value FROM json_each(?)) ORDER BY user_id, device_id",
                                {id_list(users)}));
  return device_keys_rows(rows);
}

Result<std::vector<DeviceKeys>> SqliteDeviceKeyStore::devices_with_identity_key(const std::string& curve25519) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, device_id, json FROM device_keys WHERE curve25519=? "
                                "ORDER BY user_id, device_id",
                                {curve25519}));
  return device_keys_rows(rows);
}

Status SqliteDeviceKeyStore::put_device_keys(const std::string& user, const std::string& device,
                                             const json::object& keys) {
  return c_.exec("INSERT INTO device_keys(user_id, device_id, json, curve25519) VALUES(?,?,?,?) ON CONFLICT "
                 "(user_id, device_id) DO UPDATE SET json=excluded.json, curve25519=excluded.curve25519",
                 {user, device, json::serialize(keys), identity_key(keys, device)});
}

Result<std::optional<json::value>> SqliteDeviceKeyStore::one_time_key(const std::string& user,
                                                                      const std::string& device,
                                                                      const std::string& algorithm,
                                                                      const std::string& key_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT json FROM one_time_keys WHERE user_id=? AND device_id=? AND "
                                    "algorithm=? AND key_id=?",
                                {user, device, algorithm, key_id}));
  if (!row) return std::optional<json::value>{};
  DS_ASSIGN(json::value key, parse_value_column(row->str(0), "one-time key"));
  return std::optional<json::value>(std::move(key));
}

Status SqliteDeviceKeyStore::add_one_time_key(const std::string& user, const std::string& device,
                                              const OneTimeKey& k) {
  return c_.exec("INSERT INTO one_time_keys(user_id, device_id, algorithm, key_id, json) VALUES(?,?,?,?,?) "
                 "ON CONFLICT DO NOTHING",
                 {user, device, k.algorithm, k.key_id, json::serialize(k.key)});
}

Result<std::map<std::string, int64_t>> SqliteDeviceKeyStore::one_time_key_counts(const std::string& user,
                                                                                 const std::string& device) {
  DS_ASSIGN(auto rows, c_.query("SELECT algorithm, COUNT(*) FROM one_time_keys WHERE user_id=? AND device_id=? "
                                "GROUP BY algorithm",
                                {user, device}));
  std::map<std::string, int64_t> out;
  for (auto& r : rows) out[r.str(0)] = r.i64(1);
  return out;
}

Result<std::optional<OneTimeKey>> SqliteDeviceKeyStore::claim_one_time_key(const std::string& user,
                                                                           const std::string& device,
                                                                           const std::string& algorithm) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT key_id, json FROM one_time_keys WHERE user_id=? AND device_id=? AND "
                                    "algorithm=? ORDER BY key_id LIMIT 1",
                                {user, device, algorithm}));
  if (!row) return std::optional<OneTimeKey>{};
  DS_TRY(c_.exec("DELETE FROM one_time_keys WHERE user_id=? AND device_id=? AND algorithm=? AND key_id=?",
                 {user, device, algorithm, row->str(0)}));
  DS_ASSIGN(json::value key, parse_value_column(row->str(1), "one-time key"));
  return std::optional<OneTimeKey>(OneTimeKey{algorithm, row->str(0), std::move(key)});
}

Result<std::optional<FallbackKey>> SqliteDeviceKeyStore::fallback_key(const std::string& user,
                                                                      const std::string& device,
                                                                      const std::string& algorithm) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT key_id, json, used FROM fallback_keys WHERE user_id=? AND device_id=? "
                                    "AND algorithm=?",
                                {user, device, algorithm}));
  return fallback_row(row, algorithm);
}

Status SqliteDeviceKeyStore::put_fallback_key(const std::string& user, const std::string& device,
                                              const FallbackKey& k) {
  return c_.exec("INSERT INTO fallback_keys(user_id, device_id, algorithm, key_id, json, used) VALUES(?,?,?,?,?,0) "
                 "ON CONFLICT(user_id, device_id, algorithm) DO UPDATE SET key_id=excluded.key_id, "
                 "json=excluded.json, used=0",
                 {user, device, k.algorithm, k.key_id, json::serialize(k.key)});
}

Result<std::optional<FallbackKey>> SqliteDeviceKeyStore::claim_fallback_key(const std::string& user,
                                                                            const std::string& device,
                                                                            const std::string& algorithm) {
  DS_ASSIGN(auto key, fallback_key(user, device, algorithm));
  if (!key) return key;
  DS_TRY(c_.exec("UPDATE fallback_keys SET used=1 WHERE user_id=? AND device_id=? AND algorithm=?",
                 {user, device, algorithm}));
  key->used = true;
  return key;
}

Result<std::vector<std::string>> SqliteDeviceKeyStore::unused_fallback_algorithms(const std::string& user,
                                                                                  const std::string& device) {
  DS_ASSIGN(auto rows, c_.query("SELECT algorithm FROM fallback_keys WHERE user_id=? AND device_id=? AND used=0 "
                                "ORDER BY algorithm",
                                {user, device}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Status SqliteDeviceKeyStore::remove_device(const std::string& user, const std::string& device) {
  for (const char* table : {"device_keys", "one_time_keys", "fallback_keys"})
    DS_TRY(c_.exec(std::string("DELETE FROM ") + table + " WHERE user_id=? AND device_id=?", {user, device}));
  return ok_status();
}

}  // namespace despatch::storage
