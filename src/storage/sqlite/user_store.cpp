#include "storage/sqlite/user_store.h"

namespace despatch::storage {

namespace {

Value nullable(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}

std::optional<std::string> opt_str(const Row& r, size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.str(i);
}

// A LIKE pattern matching term anywhere, with LIKE's own wildcards (and the escape
// character) taken literally: used with ESCAPE '\'.
std::string contains_pattern(const std::string& term) {
  std::string like = "%";
  for (char ch : term) {
    if (ch == '%' || ch == '_' || ch == '\\') like.push_back('\\');
    like.push_back(ch);
  }
  like += "%";
  return like;
}

constexpr const char* kAccountColumns =
    "user_id, password_hash, is_admin, deactivated, erased, created_ts, displayname, avatar_url, locked, suspended";

UserAccount account_from(const Row& r) {
  UserAccount a;
  a.user_id = r.str(0);
  a.password_hash = opt_str(r, 1);
  a.is_admin = r.i64(2) != 0;
  a.deactivated = r.i64(3) != 0;
  a.erased = r.i64(4) != 0;
  a.created_ts = r.i64(5);
  a.profile = {opt_str(r, 6), opt_str(r, 7)};
  a.locked = r.i64(8) != 0;
  a.suspended = r.i64(9) != 0;
  return a;
}

}  // namespace

Status SqliteUserStore::create(const UserAccount& a) {
  return c_.exec("INSERT INTO users(user_id, password_hash, is_admin, created_ts, displayname, avatar_url) "
                 "VALUES(?,?,?,?,?,?)",
                 {a.user_id, nullable(a.password_hash), int64_t{a.is_admin ? 1 : 0}, a.created_ts,
                  nullable(a.profile.displayname), nullable(a.profile.avatar_url)});
}

Result<bool> SqliteUserStore::exists(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM users WHERE user_id=?", {user}));
  return row.has_value();
}

Result<std::optional<UserAccount>> SqliteUserStore::account(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kAccountColumns + " FROM users WHERE user_id=?", {user}));
  if (!row) return std::optional<UserAccount>{};
  return std::optional<UserAccount>(account_from(*row));
}

Result<std::optional<UserProfile>> SqliteUserStore::profile(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT displayname, avatar_url FROM users WHERE user_id=?", {user}));
  if (!row) return std::optional<UserProfile>{};
  return std::optional<UserProfile>(UserProfile{opt_str(*row, 0), opt_str(*row, 1)});
}

Result<bool> SqliteUserStore::is_active(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM users WHERE user_id=? AND deactivated=0", {user}));
  return row.has_value();
}

Result<bool> SqliteUserStore::is_admin(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT is_admin FROM users WHERE user_id=?", {user}));
  return row && row->i64(0) != 0;
}

Status SqliteUserStore::set_password_hash(const std::string& user, const std::string& hash) {
  return c_.exec("UPDATE users SET password_hash=? WHERE user_id=?", {hash, user});
}

Status SqliteUserStore::set_displayname(const std::string& user, const std::optional<std::string>& name) {
  return c_.exec("UPDATE users SET displayname=? WHERE user_id=?", {nullable(name), user});
}

Status SqliteUserStore::set_avatar_url(const std::string& user, const std::optional<std::string>& url) {
  return c_.exec("UPDATE users SET avatar_url=? WHERE user_id=?", {nullable(url), user});
}

Status SqliteUserStore::deactivate(const std::string& user, bool erase) {
  if (erase) return c_.exec("UPDATE users SET deactivated=1, password_hash=NULL, erased=1 WHERE user_id=?", {user});
  return c_.exec("UPDATE users SET deactivated=1, password_hash=NULL WHERE user_id=?", {user});
}

Result<std::vector<std::string>> SqliteUserStore::erased_users() {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id FROM users WHERE erased=1"));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Status SqliteUserStore::reactivate(const std::string& user) {
  return c_.exec("UPDATE users SET deactivated=0 WHERE user_id=?", {user});
}

Status SqliteUserStore::set_locked(const std::string& user, bool locked) {
  return c_.exec("UPDATE users SET locked=? WHERE user_id=?", {int64_t{locked ? 1 : 0}, user});
}

Status SqliteUserStore::set_suspended(const std::string& user, bool suspended) {
  return c_.exec("UPDATE users SET suspended=? WHERE user_id=?", {int64_t{suspended ? 1 : 0}, user});
}

Status SqliteUserStore::set_admin(const std::string& user, bool admin) {
  return c_.exec("UPDATE users SET is_admin=? WHERE user_id=?", {int64_t{admin ? 1 : 0}, user});
}

Result<UserPage> SqliteUserStore::list(const UserQuery& q) {
  std::string where = " WHERE (?='' OR user_id LIKE ? ESCAPE '\\' OR displayname LIKE ? ESCAPE '\\')";
  if (!q.include_deactivated) where += " AND deactivated=0";
  if (q.admins_only) where += " AND is_admin=1";
  std::string like = contains_pattern(q.name);
  DS_ASSIGN(auto total, query_one(c_, "SELECT COUNT(*) FROM users" + where, {q.name, like, like}));
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kAccountColumns + " FROM users" + where +
                                    " ORDER BY user_id LIMIT ? OFFSET ?",
                                {q.name, like, like, q.limit, q.from}));
  UserPage page;
  page.total = total ? total->i64(0) : 0;
  for (auto& r : rows) page.users.push_back(account_from(r));
  return page;
}

Result<std::vector<UserMatch>> SqliteUserStore::search(const std::string& term, const std::string& after,
                                                       size_t limit) {
  // SQLite's LIKE folds ASCII case only, as the interface promises.
  std::string like = contains_pattern(term);
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, displayname, avatar_url FROM users WHERE deactivated=0 AND "
                                "user_id>? AND (user_id LIKE ? ESCAPE '\\' OR displayname LIKE ? ESCAPE '\\') "
                                "ORDER BY user_id LIMIT ?",
                                {after, like, like, static_cast<int64_t>(limit)}));
  std::vector<UserMatch> out;
  for (auto& r : rows) out.push_back({r.str(0), {opt_str(r, 1), opt_str(r, 2)}});
  return out;
}

Status SqliteUserStore::add_token(const std::string& token_hash, const std::string& user, const std::string& device,
                                  int64_t created_ts) {
  return c_.exec("INSERT INTO access_tokens(token, user_id, device_id, created_ts) VALUES(?,?,?,?)",
                 {token_hash, user, device, created_ts});
}

Status SqliteUserStore::set_token_expiry(const std::string& token_hash, int64_t expires_ts) {
  return c_.exec("UPDATE access_tokens SET expires_ts=? WHERE token=?", {expires_ts, token_hash});
}

Result<std::optional<TokenOwner>> SqliteUserStore::token_owner(const std::string& token_hash) {
  // Both tables are this store's: one query.
  DS_ASSIGN(auto row, query_one(c_,
                                "SELECT t.user_id, t.device_id, u.is_admin, u.deactivated, u.locked, u.suspended, "
                                "COALESCE(t.expires_ts, 0) FROM access_tokens t JOIN users u ON u.user_id=t.user_id "
                                "WHERE t.token=?",
                                {token_hash}));
  if (!row) return std::optional<TokenOwner>{};
  return std::optional<TokenOwner>(TokenOwner{row->str(0), row->str(1), row->i64(2) != 0, row->i64(3) != 0,
                                              row->i64(4) != 0, row->i64(5) != 0, row->i64(6)});
}

Status SqliteUserStore::remove_tokens(const std::string& user, const std::string& device) {
  return c_.exec("DELETE FROM access_tokens WHERE user_id=? AND device_id=?", {user, device});
}

Status SqliteUserStore::remove_all_tokens(const std::string& user) {
  return c_.exec("DELETE FROM access_tokens WHERE user_id=?", {user});
}

Result<bool> SqliteUserStore::has_token(const std::string& user, const std::string& device) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM access_tokens WHERE user_id=? AND device_id=? LIMIT 1", {user, device}));
  return row.has_value();
}

Status SqliteUserStore::retire_tokens(const std::string& user, int64_t ts) {
  return c_.exec("INSERT OR IGNORE INTO retired_tokens(token, user_id, retired_ts) "
                 "SELECT token, user_id, ? FROM access_tokens WHERE user_id=?",
                 {ts, user});
}

Result<std::optional<std::string>> SqliteUserStore::retired_token_owner(const std::string& token_hash) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT user_id FROM retired_tokens WHERE token=?", {token_hash}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

}  // namespace despatch::storage
