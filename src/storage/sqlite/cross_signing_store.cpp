#include "storage/sqlite/cross_signing_store.h"

#include "storage/sqlite/id_list.h"
#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Result<std::optional<json::object>> SqliteCrossSigningStore::key(const std::string& user, const std::string& usage) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT json FROM cross_signing_keys WHERE user_id=? AND usage=?", {user, usage}));
  if (!row) return std::optional<json::object>{};
  DS_ASSIGN(json::object key, parse_object_column(row->str(0), "cross-signing key"));
  return std::optional<json::object>(std::move(key));
}

Result<std::vector<CrossSigningKey>> SqliteCrossSigningStore::keys_of(const std::vector<std::string>& users) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, usage, json FROM cross_signing_keys WHERE user_id IN "
                                "(SELECT value FROM json_each(?)) ORDER BY user_id, usage",
                                {id_list(users)}));
  std::vector<CrossSigningKey> out;
  for (auto& r : rows) {
    DS_ASSIGN(json::object key, parse_object_column(r.str(2), "cross-signing key"));
    out.push_back({r.str(0), r.str(1), std::move(key)});
  }
  return out;
}

Status SqliteCrossSigningStore::put_key(const std::string& user, const std::string& usage, const json::object& key) {
  return c_.exec("INSERT INTO cross_signing_keys(user_id, usage, json) VALUES(?,?,?) ON CONFLICT(user_id, usage) "
                 "DO UPDATE SET json=excluded.json",
                 {user, usage, json::serialize(key)});
}

Status SqliteCrossSigningStore::remove_key(const std::string& user, const std::string& usage) {
  return c_.exec("DELETE FROM cross_signing_keys WHERE user_id=? AND usage=?", {user, usage});
}

Status SqliteCrossSigningStore::put_signature(const KeySignature& s) {
  return c_.exec("INSERT INTO key_signatures(target_user, target_key, signer, signer_key_id, signature) "
                 "VALUES(?,?,?,?,?) ON CONFLICT(target_user, target_key, signer, signer_key_id) DO UPDATE "
                 "SET signature=excluded.signature",
                 {s.target_user, s.target_key, s.signer, s.signer_key_id, s.signature});
}

Result<std::vector<KeySignature>> SqliteCrossSigningStore::signatures_of(const std::vector<std::string>& target_users,
                                                                         const std::string& other_signer) {
  DS_ASSIGN(auto rows, c_.query("SELECT target_user, target_key, signer, signer_key_id, signature FROM key_signatures "
                                "WHERE target_user IN (SELECT value FROM json_each(?)) AND "
                                "(signer=target_user OR signer=?) ORDER BY target_user, target_key, signer, signer_key_id",
                                {id_list(target_users), other_signer}));
  std::vector<KeySignature> out;
  for (auto& r : rows) out.push_back({r.str(0), r.str(1), r.str(2), r.str(3), r.str(4)});
  return out;
}

Status SqliteCrossSigningStore::remove_signatures_of(const std::string& target_user, const std::string& target_key) {
  return c_.exec("DELETE FROM key_signatures WHERE target_user=? AND target_key=?", {target_user, target_key});
}

}  // namespace despatch::storage
