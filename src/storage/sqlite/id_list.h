// Lists of IDs as one query parameter. SQLite binds no arrays, so a list travels as a JSON
// array read back with json_each: `user_id IN (SELECT value FROM json_each(?))` is one
// statement however long the list (PostgreSQL would bind a text[] for `= ANY($1)`).
#pragma once

#include "core/result.h"

#include <string>
#include <vector>

namespace despatch::storage {

inline std::string id_list(const std::vector<std::string>& ids) {
  json::array a;
  a.reserve(ids.size());
  for (auto& id : ids) a.emplace_back(json::string(id));
  return json::serialize(a);
}

}  // namespace despatch::storage
