#include "storage/sqlite/user_store.h"

namespace despatch::storage {

Result<std::optional<UserProfile>> SqliteUserStore::profile(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT displayname, avatar_url FROM users WHERE user_id=?", {user}));
  if (!row) return std::optional<UserProfile>{};
  UserProfile p;
  if (!row->is_null(0)) p.displayname = row->str(0);
  if (!row->is_null(1)) p.avatar_url = row->str(1);
  return std::optional<UserProfile>(std::move(p));
}

Result<bool> SqliteUserStore::is_active(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM users WHERE user_id=? AND deactivated=0", {user}));
  return row.has_value();
}

Result<bool> SqliteUserStore::is_admin(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT is_admin FROM users WHERE user_id=?", {user}));
  return row && row->i64(0) != 0;
}

}  // namespace despatch::storage
