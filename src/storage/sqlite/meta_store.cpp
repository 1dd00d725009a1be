#include "storage/sqlite/meta_store.h"

namespace despatch::storage {

Result<std::optional<std::string>> SqliteMetaStore::get(const std::string& key) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT value FROM meta WHERE key=?", {key}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Status SqliteMetaStore::put(const std::string& key, const std::string& value) {
  return c_.exec("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                 {key, value});
}

}  // namespace despatch::storage
