#include "storage/sqlite/account_data_store.h"

#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Status SqliteAccountDataStore::put(const std::string& user, const std::string& room_id, const std::string& type,
                                   const json::object& content, int64_t stream_pos) {
  return c_.exec("INSERT INTO account_data(user_id, room_id, type, content, stream_pos) "
                 "VALUES(?,?,?,?,?) ON CONFLICT(user_id, room_id, type) DO UPDATE SET "
                 "content=excluded.content, stream_pos=excluded.stream_pos",
                 {user, room_id, type, json::serialize(content), stream_pos});
}

Result<std::optional<json::object>> SqliteAccountDataStore::get(const std::string& user, const std::string& room_id,
                                                                const std::string& type) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT content FROM account_data WHERE user_id=? AND room_id=? AND type=?",
                                {user, room_id, type}));
  if (!row) return std::optional<json::object>{};
  DS_ASSIGN(json::object content, parse_object_column(row->str(0), "account data"));
  return std::optional<json::object>(std::move(content));
}

Result<std::vector<AccountDataEntry>> SqliteAccountDataStore::changed(const std::string& user,
                                                                      const std::string& room_id, int64_t from,
                                                                      int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT type, content FROM account_data WHERE user_id=? AND room_id=? "
                                "AND stream_pos>? AND stream_pos<=?",
                                {user, room_id, from, to}));
  std::vector<AccountDataEntry> out;
  for (auto& r : rows) {
    DS_ASSIGN(json::object content, parse_object_column(r.str(1), "account data"));
    out.push_back({room_id, r.str(0), std::move(content)});
  }
  return out;
}

Result<std::vector<std::string>> SqliteAccountDataStore::rooms_changed(const std::string& user, int64_t from,
                                                                       int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT room_id FROM account_data WHERE user_id=? AND "
                                "room_id<>'' AND stream_pos>? AND stream_pos<=?",
                                {user, from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<int64_t> SqliteAccountDataStore::add_filter(const std::string& user, const json::object& filter) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id=?", {user}));
  int64_t id = row->i64(0);
  DS_TRY(c_.exec("INSERT INTO filters(user_id, filter_id, json) VALUES(?,?,?)", {user, id, json::serialize(filter)}));
  return id;
}

Result<std::optional<json::value>> SqliteAccountDataStore::filter(const std::string& user, int64_t filter_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT json FROM filters WHERE user_id=? AND filter_id=?", {user, filter_id}));
  if (!row) return std::optional<json::value>{};
  DS_ASSIGN(json::value v, parse_value_column(row->str(0), "filter"));
  return std::optional<json::value>(std::move(v));
}

Result<json::object> SqliteAccountDataStore::push_rule_overrides(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT overrides FROM push_rules WHERE user_id=?", {user}));
  if (!row) return json::object{};
  return parse_object_column(row->str(0), "push rules");
}

Status SqliteAccountDataStore::set_push_rule_overrides(const std::string& user, const json::object& overrides) {
  return c_.exec("INSERT INTO push_rules(user_id, overrides) VALUES(?,?) ON CONFLICT(user_id) "
                 "DO UPDATE SET overrides=excluded.overrides",
                 {user, json::serialize(overrides)});
}

}  // namespace despatch::storage
