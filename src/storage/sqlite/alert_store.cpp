#include "storage/sqlite/alert_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "id, rule, signal, severity, user_id, count, details, ts, acknowledged_by, acknowledged_ts, "
    "note";

std::optional<std::string> opt_str(const Row& r, size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<std::string>(r.str(i));
}

Alert alert_from(const Row& r) {
  Alert out;
  out.id = r.i64(0);
  out.rule = r.str(1);
  out.signal = r.str(2);
  out.severity = r.str(3);
  out.user_id = r.str(4);
  out.count = r.i64(5);
  out.details = r.str(6);
  out.ts = r.i64(7);
  out.acknowledged_by = opt_str(r, 8);
  if (!r.is_null(9)) out.acknowledged_ts = r.i64(9);
  out.note = opt_str(r, 10);
  return out;
}

}  // namespace

Result<int64_t> SqliteAlertStore::add(const Alert& a) {
  DS_ASSIGN(auto row,
            query_one(c_,
                      "INSERT INTO alerts(rule, signal, severity, user_id, count, details, ts) "
                      "VALUES(?,?,?,?,?,?,?) RETURNING id",
                      {a.rule, a.signal, a.severity, a.user_id, a.count, a.details, a.ts}));
  if (!row) return Error::internal("alerts: no id returned");
  return row->i64(0);
}

Result<std::optional<Alert>> SqliteAlertStore::get(int64_t id) {
  DS_ASSIGN(auto row,
            query_one(c_, std::string("SELECT ") + kColumns + " FROM alerts WHERE id=?", {id}));
  if (!row) return std::optional<Alert>{};
  return std::optional<Alert>(alert_from(*row));
}

Result<bool> SqliteAlertStore::acknowledge(int64_t id, const std::string& by, int64_t ts,
                                           const std::string& note) {
  DS_ASSIGN(auto row, query_one(c_,
                                "UPDATE alerts SET acknowledged_by=?, acknowledged_ts=?, note=? "
                                "WHERE id=? AND acknowledged_ts IS NULL RETURNING id",
                                {by, ts, note, id}));
  return row.has_value();
}

Result<std::vector<Alert>> SqliteAlertStore::list(bool include_acknowledged, int64_t before,
                                                  int64_t limit) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM alerts WHERE (?=0 OR id<?)" +
                    (include_acknowledged ? "" : " AND acknowledged_ts IS NULL") +
                    " ORDER BY id DESC LIMIT ?";
  DS_ASSIGN(auto rows, c_.query(sql, {before, before, limit}));
  std::vector<Alert> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(alert_from(r));
  return out;
}

}  // namespace despatch::storage
