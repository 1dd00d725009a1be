#include "storage/sqlite/keeper_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kPendingColumns =
    "event_id, room_id, session_id, sender_key, sender, stream_pos, ts, reason, attempts, first_seen_ts";

std::vector<KeeperPending> pending_from(const Rows& rows) {
  std::vector<KeeperPending> out;
  out.reserve(rows.size());
  for (auto& r : rows)
    out.push_back({r.str(0), r.str(1), r.str(2), r.str(3), r.str(4), r.i64(5), r.i64(6), r.str(7), r.i64(8),
                   r.i64(9)});
  return out;
}

}  // namespace

Result<std::optional<KeeperAccount>> SqliteKeeperStore::account(const std::string& user_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT device_id, pickle, cross_signing, created_ts FROM keeper_account "
                                    "WHERE user_id=?",
                                {user_id}));
  if (!row) return std::optional<KeeperAccount>{};
  return std::optional<KeeperAccount>(KeeperAccount{user_id, row->str(0), row->str(1), row->str(2), row->i64(3)});
}

Status SqliteKeeperStore::create_account(const KeeperAccount& a) {
  return c_.exec("INSERT INTO keeper_account(user_id, device_id, pickle, cross_signing, created_ts) VALUES(?,?,?,?,?)",
                 {a.user_id, a.device_id, a.pickle, a.cross_signing, a.created_ts});
}

Status SqliteKeeperStore::set_account_pickle(const std::string& user_id, const std::string& pickle) {
  return c_.exec("UPDATE keeper_account SET pickle=? WHERE user_id=?", {pickle, user_id});
}

Result<std::vector<KeeperOlmSession>> SqliteKeeperStore::olm_sessions(const std::string& sender_key) {
  DS_ASSIGN(auto rows, c_.query("SELECT session_id, pickle FROM keeper_olm_sessions WHERE sender_key=? ORDER BY rank",
                                {sender_key}));
  std::vector<KeeperOlmSession> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.str(0), r.str(1)});
  return out;
}

Status SqliteKeeperStore::replace_olm_sessions(const std::string& sender_key,
                                               const std::vector<KeeperOlmSession>& sessions) {
  DS_TRY(c_.exec("DELETE FROM keeper_olm_sessions WHERE sender_key=?", {sender_key}));
  int64_t rank = 0;
  for (auto& s : sessions)
    DS_TRY(c_.exec("INSERT INTO keeper_olm_sessions(sender_key, session_id, rank, pickle) VALUES(?,?,?,?) "
                   "ON CONFLICT(sender_key, session_id) DO NOTHING",
                   {sender_key, s.session_id, rank++, s.pickle}));
  return ok_status();
}

Result<std::optional<KeeperMegolmSession>> SqliteKeeperStore::megolm_session(const std::string& room_id,
                                                                             const std::string& session_id,
                                                                             const std::string& sender_key) {
  std::string sql = "SELECT sender_key, sender_user, first_index, source, pickle, received_ts "
                    "FROM keeper_megolm_sessions WHERE room_id=? AND session_id=?";
  Params p{room_id, session_id};
  if (!sender_key.empty()) {
    sql += " AND sender_key=?";
    p.push_back(sender_key);
  }
  DS_ASSIGN(auto row, query_one(c_, sql + " LIMIT 1", p));
  if (!row) return std::optional<KeeperMegolmSession>{};
  return std::optional<KeeperMegolmSession>(KeeperMegolmSession{room_id, session_id, row->str(0), row->str(1),
                                                                row->i64(2), row->str(3), row->str(4), row->i64(5)});
}

Status SqliteKeeperStore::put_megolm_session(const KeeperMegolmSession& s) {
  return c_.exec("INSERT INTO keeper_megolm_sessions(room_id, session_id, sender_key, sender_user, first_index, "
                 "source, pickle, received_ts) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(room_id, session_id, sender_key) "
                 "DO UPDATE SET sender_user=excluded.sender_user, first_index=excluded.first_index, "
                 "source=excluded.source, pickle=excluded.pickle, received_ts=excluded.received_ts",
                 {s.room_id, s.session_id, s.sender_key, s.sender_user, s.first_index, s.source, s.pickle,
                  s.received_ts});
}

Status SqliteKeeperStore::add_pending(const KeeperPending& p) {
  return c_.exec("INSERT INTO keeper_pending(event_id, room_id, session_id, sender_key, sender, stream_pos, ts, "
                 "reason, attempts, first_seen_ts) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(event_id) DO NOTHING",
                 {p.event_id, p.room_id, p.session_id, p.sender_key, p.sender, p.stream_pos, p.ts, p.reason,
                  p.attempts, p.first_seen_ts});
}

Result<std::vector<KeeperPending>> SqliteKeeperStore::pending_for_session(const std::string& room_id,
                                                                          const std::string& session_id) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kPendingColumns +
                                    " FROM keeper_pending WHERE room_id=? AND session_id=? ORDER BY stream_pos",
                                {room_id, session_id}));
  return pending_from(rows);
}

Status SqliteKeeperStore::note_failed_attempt(const std::string& event_id, const std::string& reason) {
  return c_.exec("UPDATE keeper_pending SET reason=?, attempts=attempts+1 WHERE event_id=?", {reason, event_id});
}

Status SqliteKeeperStore::set_pending_reason(const std::string& room_id, const std::string& session_id,
                                             const std::string& sender, const std::string& reason) {
  return c_.exec("UPDATE keeper_pending SET reason=? WHERE room_id=? AND session_id=? AND sender=?",
                 {reason, room_id, session_id, sender});
}

Status SqliteKeeperStore::drop_pending(const std::string& event_id) {
  return c_.exec("DELETE FROM keeper_pending WHERE event_id=?", {event_id});
}

Result<int64_t> SqliteKeeperStore::pending_count() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM keeper_pending"));
  return row ? row->i64(0) : int64_t{0};
}

Result<std::vector<KeeperPending>> SqliteKeeperStore::newest_pending(int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kPendingColumns +
                                    " FROM keeper_pending ORDER BY stream_pos DESC LIMIT ?",
                                {limit}));
  return pending_from(rows);
}

Status SqliteKeeperStore::put_withheld(const KeeperWithheld& w) {
  return c_.exec("INSERT INTO keeper_withheld(room_id, session_id, sender_key, sender, code, reason, ts) "
                 "VALUES(?,?,?,?,?,?,?) ON CONFLICT(room_id, session_id, sender_key) DO UPDATE SET "
                 "sender=excluded.sender, code=excluded.code, reason=excluded.reason, ts=excluded.ts",
                 {w.room_id, w.session_id, w.sender_key, w.sender, w.code, w.reason, w.ts});
}

Result<std::optional<KeeperWithheld>> SqliteKeeperStore::withheld(const std::string& room_id,
                                                                  const std::string& session_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT sender_key, sender, code, reason, ts FROM keeper_withheld "
                                    "WHERE room_id=? AND session_id=? LIMIT 1",
                                {room_id, session_id}));
  if (!row) return std::optional<KeeperWithheld>{};
  return std::optional<KeeperWithheld>(
      KeeperWithheld{room_id, session_id, row->str(0), row->str(1), row->str(2), row->str(3), row->i64(4)});
}

}  // namespace despatch::storage
