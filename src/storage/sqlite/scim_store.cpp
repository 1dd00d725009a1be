#include "storage/sqlite/scim_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kUserColumns =
    "id, user_id, user_name, external_id, display_name, name_json, emails_json, active, created_ts, updated_ts, "
    "version";
constexpr const char* kGroupColumns = "id, display_name, external_id, created_ts, updated_ts, version";

Value opt(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}

std::optional<std::string> opt_str(const Row& r, size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<std::string>(r.str(i));
}

ScimToken token_from(const Row& r) {
  ScimToken t;
  t.id = r.i64(0);
  t.name = r.str(1);
  t.token_hash = r.str(2);
  t.created_ts = r.i64(3);
  if (!r.is_null(4)) t.revoked_ts = r.i64(4);
  if (!r.is_null(5)) t.last_used_ts = r.i64(5);
  return t;
}

ScimUser user_from(const Row& r) {
  ScimUser u;
  u.id = r.str(0);
  u.user_id = r.str(1);
  u.user_name = r.str(2);
  u.external_id = opt_str(r, 3);
  u.display_name = r.str(4);
  u.name_json = r.str(5);
  u.emails_json = r.str(6);
  u.active = r.i64(7) != 0;
  u.created_ts = r.i64(8);
  u.updated_ts = r.i64(9);
  u.version = r.i64(10);
  return u;
}

ScimGroup group_from(const Row& r) {
  ScimGroup g;
  g.id = r.str(0);
  g.display_name = r.str(1);
  g.external_id = opt_str(r, 2);
  g.created_ts = r.i64(3);
  g.updated_ts = r.i64(4);
  g.version = r.i64(5);
  return g;
}

// The column a filter compares, and how (the text columns fold case where the schema says).
const char* column_of(ScimField f) {
  switch (f) {
    case ScimField::kId: return "id";
    case ScimField::kUserName: return "user_name";
    case ScimField::kDisplayName: return "display_name";
    case ScimField::kExternalId: return "external_id";
    case ScimField::kActive: return "active";
  }
  return "id";
}

}  // namespace

Result<int64_t> SqliteScimStore::add_token(const ScimToken& t) {
  DS_ASSIGN(auto row, query_one(c_, "INSERT INTO scim_tokens(name, token_hash, created_ts) VALUES(?,?,?) RETURNING id",
                                {t.name, t.token_hash, t.created_ts}));
  if (!row) return Error::internal("scim_tokens: no id returned");
  return row->i64(0);
}

Result<std::optional<ScimToken>> SqliteScimStore::token_by_hash(const std::string& hash) {
  DS_ASSIGN(auto row, query_one(c_,
                                "SELECT id, name, token_hash, created_ts, revoked_ts, last_used_ts FROM scim_tokens "
                                "WHERE token_hash=?",
                                {hash}));
  if (!row) return std::optional<ScimToken>{};
  return std::optional<ScimToken>(token_from(*row));
}

Result<std::vector<ScimToken>> SqliteScimStore::tokens() {
  DS_ASSIGN(auto rows, c_.query("SELECT id, name, token_hash, created_ts, revoked_ts, last_used_ts FROM scim_tokens "
                                "ORDER BY id"));
  std::vector<ScimToken> out;
  for (auto& r : rows) out.push_back(token_from(r));
  return out;
}

Result<bool> SqliteScimStore::revoke_token(int64_t id, int64_t ts) {
  DS_ASSIGN(auto row, query_one(c_, "UPDATE scim_tokens SET revoked_ts=? WHERE id=? AND revoked_ts IS NULL RETURNING id",
                                {ts, id}));
  return row.has_value();
}

Status SqliteScimStore::touch_token(int64_t id, int64_t ts) {
  return c_.exec("UPDATE scim_tokens SET last_used_ts=? WHERE id=?", {ts, id});
}

Status SqliteScimStore::put_user(const ScimUser& u) {
  return c_.exec(std::string("INSERT OR REPLACE INTO scim_users(") + kUserColumns + ") VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                 {u.id, u.user_id, u.user_name, opt(u.external_id), u.display_name, u.name_json, u.emails_json,
                  int64_t{u.active ? 1 : 0}, u.created_ts, u.updated_ts, u.version});
}

Result<std::optional<ScimUser>> SqliteScimStore::user(const std::string& id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kUserColumns + " FROM scim_users WHERE id=?", {id}));
  if (!row) return std::optional<ScimUser>{};
  return std::optional<ScimUser>(user_from(*row));
}

Result<std::optional<ScimUser>> SqliteScimStore::user_by_name(const std::string& user_name) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kUserColumns + " FROM scim_users WHERE user_name=?",
                                {user_name}));
  if (!row) return std::optional<ScimUser>{};
  return std::optional<ScimUser>(user_from(*row));
}

Status SqliteScimStore::delete_user(const std::string& id) {
  DS_TRY(c_.exec("DELETE FROM scim_group_members WHERE user_id=?", {id}));
  return c_.exec("DELETE FROM scim_users WHERE id=?", {id});
}

Result<std::vector<ScimUser>> SqliteScimStore::users(std::optional<ScimField> field, const std::string& value) {
  std::string sql = std::string("SELECT ") + kUserColumns + " FROM scim_users";
  Params p;
  if (field) {
    sql += std::string(" WHERE ") + column_of(*field) + "=?";
    if (*field == ScimField::kActive) p.push_back(int64_t{value == "true" ? 1 : 0});
    else p.push_back(value);
  }
  sql += " ORDER BY id";
  DS_ASSIGN(auto rows, c_.query(sql, p));
  std::vector<ScimUser> out;
  for (auto& r : rows) out.push_back(user_from(r));
  return out;
}

Status SqliteScimStore::put_group(const ScimGroup& g) {
  return c_.exec(std::string("INSERT OR REPLACE INTO scim_groups(") + kGroupColumns + ") VALUES(?,?,?,?,?,?)",
                 {g.id, g.display_name, opt(g.external_id), g.created_ts, g.updated_ts, g.version});
}

Result<std::optional<ScimGroup>> SqliteScimStore::group(const std::string& id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kGroupColumns + " FROM scim_groups WHERE id=?", {id}));
  if (!row) return std::optional<ScimGroup>{};
  return std::optional<ScimGroup>(group_from(*row));
}

Result<std::optional<ScimGroup>> SqliteScimStore::group_by_name(const std::string& display_name) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kGroupColumns + " FROM scim_groups WHERE display_name=?",
                                {display_name}));
  if (!row) return std::optional<ScimGroup>{};
  return std::optional<ScimGroup>(group_from(*row));
}

Status SqliteScimStore::delete_group(const std::string& id) {
  DS_TRY(c_.exec("DELETE FROM scim_group_members WHERE group_id=?", {id}));
  return c_.exec("DELETE FROM scim_groups WHERE id=?", {id});
}

Result<std::vector<ScimGroup>> SqliteScimStore::groups(std::optional<ScimField> field, const std::string& value) {
  std::string sql = std::string("SELECT ") + kGroupColumns + " FROM scim_groups";
  Params p;
  if (field) {
    if (*field != ScimField::kId && *field != ScimField::kDisplayName && *field != ScimField::kExternalId)
      return std::vector<ScimGroup>{};
    sql += std::string(" WHERE ") + column_of(*field) + "=?";
    p.push_back(value);
  }
  sql += " ORDER BY id";
  DS_ASSIGN(auto rows, c_.query(sql, p));
  std::vector<ScimGroup> out;
  for (auto& r : rows) out.push_back(group_from(r));
  return out;
}

Result<std::vector<std::string>> SqliteScimStore::members(const std::string& group_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id FROM scim_group_members WHERE group_id=? ORDER BY user_id", {group_id}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Status SqliteScimStore::add_member(const std::string& group_id, const std::string& user_id) {
  return c_.exec("INSERT OR IGNORE INTO scim_group_members(group_id, user_id) VALUES(?,?)", {group_id, user_id});
}

Status SqliteScimStore::remove_member(const std::string& group_id, const std::string& user_id) {
  return c_.exec("DELETE FROM scim_group_members WHERE group_id=? AND user_id=?", {group_id, user_id});
}

Result<std::vector<std::string>> SqliteScimStore::groups_of(const std::string& user_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT group_id FROM scim_group_members WHERE user_id=? ORDER BY group_id", {user_id}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Status SqliteScimStore::set_group_rooms(const std::string& group_name, const std::vector<std::string>& rooms) {
  DS_TRY(c_.exec("DELETE FROM scim_group_rooms WHERE group_name=?", {group_name}));
  for (auto& room : rooms)
    DS_TRY(c_.exec("INSERT OR IGNORE INTO scim_group_rooms(group_name, room_id) VALUES(?,?)", {group_name, room}));
  return ok_status();
}

Result<std::vector<std::string>> SqliteScimStore::group_rooms(const std::string& group_name) {
  DS_ASSIGN(auto rows, c_.query("SELECT room_id FROM scim_group_rooms WHERE group_name=? ORDER BY room_id", {group_name}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteScimStore::all_group_rooms() {
  DS_ASSIGN(auto rows, c_.query("SELECT group_name, room_id FROM scim_group_rooms ORDER BY group_name, room_id"));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : rows) out.emplace_back(r.str(0), r.str(1));
  return out;
}

}  // namespace despatch::storage
