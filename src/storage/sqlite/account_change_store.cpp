#include "storage/sqlite/account_change_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns = "seq, user_id, action, actor, details, ts, done_ts";

AccountChange change_from(const Row& r) {
  AccountChange c;
  c.seq = r.i64(0);
  c.user_id = r.str(1);
  c.action = r.str(2);
  c.actor = r.str(3);
  c.details = r.str(4);
  c.ts = r.i64(5);
  if (!r.is_null(6)) c.done_ts = r.i64(6);
  return c;
}

}  // namespace

Result<int64_t> SqliteAccountChangeStore::append(const AccountChange& c) {
  Value done = nullptr;
  if (c.done_ts) done = *c.done_ts;
  DS_ASSIGN(auto row, query_one(c_,
                                "INSERT INTO account_changes(user_id, action, actor, details, ts, done_ts) "
                                "VALUES(?,?,?,?,?,?) RETURNING seq",
                                {c.user_id, c.action, c.actor, c.details, c.ts, done}));
  if (!row) return Error::internal("account_changes: no seq returned");
  return row->i64(0);
}

Result<std::vector<AccountChange>> SqliteAccountChangeStore::after(int64_t seq, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns +
                                    " FROM account_changes WHERE seq>? ORDER BY seq LIMIT ?",
                                {seq, limit}));
  std::vector<AccountChange> out;
  for (auto& r : rows) out.push_back(change_from(r));
  return out;
}

Result<int64_t> SqliteAccountChangeStore::last_seq() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COALESCE(MAX(seq), 0) FROM account_changes"));
  return row ? row->i64(0) : 0;
}

Status SqliteAccountChangeStore::mark_done(int64_t seq, int64_t ts) {
  return c_.exec("UPDATE account_changes SET done_ts=? WHERE seq=? AND done_ts IS NULL", {ts, seq});
}

Result<std::vector<AccountChange>> SqliteAccountChangeStore::pending(int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns +
                                    " FROM account_changes WHERE done_ts IS NULL ORDER BY seq LIMIT ?",
                                {limit}));
  std::vector<AccountChange> out;
  for (auto& r : rows) out.push_back(change_from(r));
  return out;
}

}  // namespace despatch::storage
