#include "storage/sqlite/archive_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "seq, stream_pos, event_id, room_id, sender, type, ts, classification, kind, sealed, "
    "content_hash, prev_hash, hash, key_id";

ArchiveRow row_from(const Row& r) {
  ArchiveRow a;
  a.seq = r.i64(0);
  a.stream_pos = r.i64(1);
  a.event_id = r.str(2);
  a.room_id = r.str(3);
  a.sender = r.str(4);
  a.type = r.str(5);
  a.ts = r.i64(6);
  a.classification = r.str(7);
  a.kind = r.str(8);
  a.sealed = r.str(9);
  a.content_hash = r.str(10);
  a.prev_hash = r.str(11);
  a.hash = r.str(12);
  a.key_id = r.i64(13);
  return a;
}

std::vector<ArchiveRow> rows_from(const Rows& rows) {
  std::vector<ArchiveRow> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(row_from(r));
  return out;
}

}  // namespace

Result<int64_t> SqliteArchiveStore::add_data_key(const std::string& sealed_key) {
  DS_ASSIGN(auto row, query_one(c_, "INSERT INTO archive_keys(sealed_key) VALUES(?) RETURNING id", {sealed_key}));
  if (!row) return Error::internal("archive_keys: no id returned");
  return row->i64(0);
}

Result<std::optional<std::string>> SqliteArchiveStore::data_key(int64_t id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT sealed_key FROM archive_keys WHERE id=?", {id}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Status SqliteArchiveStore::append(const ArchiveRow& a) {
  return c_.exec("INSERT INTO archive(seq, stream_pos, event_id, room_id, sender, type, ts, classification, "
                 "kind, key_id, sealed, content_hash, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 {a.seq, a.stream_pos, a.event_id, a.room_id, a.sender, a.type, a.ts, a.classification, a.kind,
                  a.key_id, a.sealed, a.content_hash, a.prev_hash, a.hash});
}

Result<std::optional<ChainHead>> SqliteArchiveStore::head() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT seq, hash FROM archive ORDER BY seq DESC LIMIT 1"));
  if (!row) return std::optional<ChainHead>{};
  return std::optional<ChainHead>(ChainHead{row->i64(0), row->str(1)});
}

Result<std::vector<ArchiveRow>> SqliteArchiveStore::records_after(int64_t after, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM archive WHERE seq>? ORDER BY seq LIMIT ?",
                                {after, limit}));
  return rows_from(rows);
}

Result<std::optional<std::string>> SqliteArchiveStore::hash_at(int64_t seq) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT hash FROM archive WHERE seq=?", {seq}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Result<std::optional<int64_t>> SqliteArchiveStore::seq_of_hash(const std::string& hash) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT seq FROM archive WHERE hash=? LIMIT 1", {hash}));
  if (!row) return std::optional<int64_t>{};
  return std::optional<int64_t>(row->i64(0));
}

Result<std::vector<ArchiveRow>> SqliteArchiveStore::matching(const RecordQuery& q, int64_t after, int64_t limit) {
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM archive WHERE kind NOT IN ('tombstone', 'room_key') AND seq>?";
  Params p{after};
  if (!q.sender_or_member.empty()) {
    sql += " AND (sender=? OR type='m.room.member')";
    p.push_back(q.sender_or_member);
  }
  if (!q.room_id.empty()) {
    sql += " AND room_id=?";
    p.push_back(q.room_id);
  }
  if (q.from_ts) {
    sql += " AND ts>=?";
    p.push_back(*q.from_ts);
  }
  if (q.to_ts) {
    sql += " AND ts<=?";
    p.push_back(*q.to_ts);
  }
  sql += " ORDER BY seq LIMIT ?";
  p.push_back(limit);
  DS_ASSIGN(auto rows, c_.query(sql, p));
  return rows_from(rows);
}

Result<std::vector<LiveRecord>> SqliteArchiveStore::live_before(int64_t before_ts, int64_t after, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT seq, room_id, sender, ts FROM archive WHERE kind<>'tombstone' AND ts<? "
                                "AND seq>? ORDER BY seq LIMIT ?",
                                {before_ts, after, limit}));
  std::vector<LiveRecord> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.str(2), r.i64(3)});
  return out;
}

Status SqliteArchiveStore::tombstone(int64_t seq) {
  return c_.exec("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", {seq});
}

Status SqliteArchiveStore::add_checkpoint(const ArchiveCheckpoint& cp) {
  return c_.exec("INSERT INTO archive_checkpoints(seq, hash, ts, key_id, signature) VALUES(?,?,?,?,?)",
                 {cp.seq, cp.hash, cp.ts, cp.key_id, cp.signature});
}

Result<int64_t> SqliteArchiveStore::last_checkpoint_seq() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT MAX(seq) FROM archive_checkpoints"));
  return row && !row->is_null(0) ? row->i64(0) : int64_t{0};
}

Result<std::vector<ArchiveCheckpoint>> SqliteArchiveStore::checkpoints() {
  DS_ASSIGN(auto rows, c_.query("SELECT seq, hash, ts, key_id, signature FROM archive_checkpoints ORDER BY seq"));
  std::vector<ArchiveCheckpoint> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.i64(2), r.str(3), r.str(4)});
  return out;
}

}  // namespace despatch::storage
