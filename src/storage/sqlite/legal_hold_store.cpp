#include "storage/sqlite/legal_hold_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "id, case_ref, user_id, room_id, from_ts, to_ts, placed_by, placed_ts, lifted_by, lifted_ts";

template <class T>
Value nullable(const std::optional<T>& v) {
  return v ? Value(*v) : Value(nullptr);
}

std::optional<std::string> opt_str(const Row& r, size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<std::string>(r.str(i));
}

std::optional<int64_t> opt_i64(const Row& r, size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<int64_t>(r.i64(i));
}

LegalHold hold_from(const Row& r) {
  return LegalHold{r.i64(0),     r.str(1),     opt_str(r, 2), opt_str(r, 3),  opt_i64(r, 4),
                   opt_i64(r, 5), r.str(6),     r.i64(7),      opt_str(r, 8), opt_i64(r, 9)};
}

}  // namespace

Result<int64_t> SqliteLegalHoldStore::place(const LegalHold& h) {
  DS_ASSIGN(auto row, query_one(c_, "INSERT INTO legal_holds(case_ref, user_id, room_id, from_ts, to_ts, placed_by, "
                                    "placed_ts) VALUES(?,?,?,?,?,?,?) RETURNING id",
                                {h.case_ref, nullable(h.user_id), nullable(h.room_id), nullable(h.from_ts),
                                 nullable(h.to_ts), h.placed_by, h.placed_ts}));
  if (!row) return Error::internal("legal_holds: no id returned");
  return row->i64(0);
}

Result<std::optional<LegalHold>> SqliteLegalHoldStore::active(int64_t id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kColumns +
                                        " FROM legal_holds WHERE id=? AND lifted_ts IS NULL",
                                {id}));
  if (!row) return std::optional<LegalHold>{};
  return std::optional<LegalHold>(hold_from(*row));
}

Status SqliteLegalHoldStore::lift(int64_t id, const std::string& lifted_by, int64_t lifted_ts) {
  return c_.exec("UPDATE legal_holds SET lifted_by=?, lifted_ts=? WHERE id=?", {lifted_by, lifted_ts, id});
}

Result<std::vector<LegalHold>> SqliteLegalHoldStore::list(bool include_lifted) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM legal_holds" +
                    (include_lifted ? "" : " WHERE lifted_ts IS NULL") + " ORDER BY id";
  DS_ASSIGN(auto rows, c_.query(sql));
  std::vector<LegalHold> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(hold_from(r));
  return out;
}

}  // namespace despatch::storage
