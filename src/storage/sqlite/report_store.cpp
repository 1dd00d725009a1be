#include "storage/sqlite/report_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "id, kind, reporter, room_id, event_id, user_id, reason, ts, acknowledged_by, acknowledged_ts, "
    "note";

template <class T>
Value nullable(const std::optional<T>& v) {
  return v ? Value(*v) : Value(nullptr);
}

std::optional<std::string> opt_str(const Row& r, size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<std::string>(r.str(i));
}

Report report_from(const Row& r) {
  Report out;
  out.id = r.i64(0);
  out.kind = r.str(1);
  out.reporter = r.str(2);
  out.room_id = opt_str(r, 3);
  out.event_id = opt_str(r, 4);
  out.user_id = opt_str(r, 5);
  out.reason = r.str(6);
  out.ts = r.i64(7);
  out.acknowledged_by = opt_str(r, 8);
  if (!r.is_null(9)) out.acknowledged_ts = r.i64(9);
  out.note = opt_str(r, 10);
  return out;
}

}  // namespace

Result<int64_t> SqliteReportStore::add(const Report& p) {
  DS_ASSIGN(auto row,
            query_one(c_,
                      "INSERT INTO reports(kind, reporter, room_id, event_id, user_id, reason, ts) "
                      "VALUES(?,?,?,?,?,?,?) RETURNING id",
                      {p.kind, p.reporter, nullable(p.room_id), nullable(p.event_id),
                       nullable(p.user_id), p.reason, p.ts}));
  if (!row) return Error::internal("reports: no id returned");
  return row->i64(0);
}

Result<std::optional<Report>> SqliteReportStore::get(int64_t id) {
  DS_ASSIGN(auto row,
            query_one(c_, std::string("SELECT ") + kColumns + " FROM reports WHERE id=?", {id}));
  if (!row) return std::optional<Report>{};
  return std::optional<Report>(report_from(*row));
}

Result<bool> SqliteReportStore::acknowledge(int64_t id, const std::string& by, int64_t ts,
                                            const std::string& note) {
  DS_ASSIGN(auto row, query_one(c_,
                                "UPDATE reports SET acknowledged_by=?, acknowledged_ts=?, note=? "
                                "WHERE id=? AND acknowledged_ts IS NULL RETURNING id",
                                {by, ts, note, id}));
  return row.has_value();
}

Result<std::vector<Report>> SqliteReportStore::list(bool include_acknowledged, int64_t before,
                                                    int64_t limit) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM reports WHERE (?=0 OR id<?)" +
                    (include_acknowledged ? "" : " AND acknowledged_ts IS NULL") +
                    " ORDER BY id DESC LIMIT ?";
  DS_ASSIGN(auto rows, c_.query(sql, {before, before, limit}));
  std::vector<Report> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(report_from(r));
  return out;
}

}  // namespace despatch::storage
