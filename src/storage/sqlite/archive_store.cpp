#include "storage/sqlite/archive_store.h"

#include "storage/sqlite/id_list.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "seq, stream_pos, event_id, room_id, sender, type, ts, classification, kind, sealed, "
    "content_hash, prev_hash, hash, key_id, format, live_kind, sealed_hash";

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
  a.format = static_cast<int>(r.i64(14));
  a.live_kind = r.str(15);
  a.sealed_hash = r.str(16);
  return a;
}

std::vector<ArchiveRow> rows_from(const Rows& rows) {
  std::vector<ArchiveRow> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(row_from(r));
  return out;
}

}  // namespace

Status SqliteArchiveStore::add_data_key(const DataKeyRow& key) {
  return c_.exec("INSERT INTO archive_keys(id, sealed_key, hash) VALUES(?,?,?)", {key.id, key.sealed, key.hash});
}

Result<std::vector<DataKeyRow>> SqliteArchiveStore::data_keys_after(int64_t after, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT id, sealed_key, COALESCE(hash, '') FROM archive_keys WHERE id>? "
                                "ORDER BY id LIMIT ?",
                                {after, limit}));
  std::vector<DataKeyRow> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.str(2)});
  return out;
}

Result<std::optional<DataKeyRow>> SqliteArchiveStore::last_data_key() {
  DS_ASSIGN(auto row, query_one(c_, "SELECT id, sealed_key, COALESCE(hash, '') FROM archive_keys ORDER BY id DESC LIMIT 1"));
  if (!row) return std::optional<DataKeyRow>{};
  return std::optional<DataKeyRow>(DataKeyRow{row->i64(0), row->str(1), row->str(2)});
}

Status SqliteArchiveStore::set_data_key_hash(int64_t id, const std::string& hash) {
  return c_.exec("UPDATE archive_keys SET hash=? WHERE id=?", {hash, id});
}

Result<std::optional<std::string>> SqliteArchiveStore::data_key(int64_t id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT sealed_key FROM archive_keys WHERE id=?", {id}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Status SqliteArchiveStore::append(const ArchiveRow& a) {
  return c_.exec("INSERT INTO archive(seq, stream_pos, event_id, room_id, sender, type, ts, classification, "
                 "kind, key_id, sealed, content_hash, prev_hash, hash, format, live_kind, sealed_hash) "
                 "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 {a.seq, a.stream_pos, a.event_id, a.room_id, a.sender, a.type, a.ts, a.classification, a.kind,
                  a.key_id, a.sealed, a.content_hash, a.prev_hash, a.hash, static_cast<int64_t>(a.format),
                  a.live_kind, a.sealed_hash});
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
  DS_ASSIGN(auto rows, c_.query("SELECT seq, room_id, sender, ts, event_id, kind FROM archive WHERE kind<>'tombstone' "
                                "AND ts<? AND seq>? ORDER BY seq LIMIT ?",
                                {before_ts, after, limit}));
  std::vector<LiveRecord> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.str(2), r.i64(3), r.str(4), r.str(5)});
  return out;
}

Status SqliteArchiveStore::tombstone(int64_t seq) {
  return c_.exec("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", {seq});
}

Result<std::vector<std::string>> SqliteArchiveStore::recorded(const std::vector<std::string>& event_ids) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT event_id FROM archive WHERE event_id IN "
                                "(SELECT value FROM json_each(?))",
                                {id_list(event_ids)}));
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

namespace {

constexpr const char* kCheckpointColumns =
    "id, version, archive_seq, archive_hash, audit_seq, audit_hash, keys_seq, keys_hash, ts, key_id, signature, "
    "durable";

ArchiveCheckpoint checkpoint_from(const Row& r) {
  ArchiveCheckpoint cp;
  cp.id = r.i64(0);
  cp.version = static_cast<int>(r.i64(1));
  cp.seq = r.i64(2);
  cp.hash = r.str(3);
  cp.audit_seq = r.i64(4);
  cp.audit_hash = r.str(5);
  cp.keys_seq = r.i64(6);
  cp.keys_hash = r.str(7);
  cp.ts = r.i64(8);
  cp.key_id = r.str(9);
  cp.signature = r.str(10);
  cp.durable = r.i64(11) != 0;
  return cp;
}

}  // namespace

Result<int64_t> SqliteArchiveStore::add_checkpoint(const ArchiveCheckpoint& cp) {
  DS_ASSIGN(auto row, query_one(c_,
                                "INSERT INTO records_checkpoints(version, archive_seq, archive_hash, audit_seq, "
                                "audit_hash, keys_seq, keys_hash, ts, key_id, signature, durable) "
                                "VALUES(?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                                {static_cast<int64_t>(cp.version), cp.seq, cp.hash, cp.audit_seq, cp.audit_hash,
                                 cp.keys_seq, cp.keys_hash, cp.ts, cp.key_id, cp.signature,
                                 int64_t{cp.durable ? 1 : 0}}));
  if (!row) return Error::internal("records_checkpoints: no id returned");
  return row->i64(0);
}

Result<std::optional<ArchiveCheckpoint>> SqliteArchiveStore::last_checkpoint(bool durable_only) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kCheckpointColumns + " FROM records_checkpoints" +
                                        (durable_only ? " WHERE durable=1" : "") + " ORDER BY id DESC LIMIT 1"));
  if (!row) return std::optional<ArchiveCheckpoint>{};
  return std::optional<ArchiveCheckpoint>(checkpoint_from(*row));
}

Status SqliteArchiveStore::drop_checkpoint(int64_t id) {
  return c_.exec("DELETE FROM records_checkpoints WHERE id=?", {id});
}

Result<std::vector<ArchiveCheckpoint>> SqliteArchiveStore::checkpoints() {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kCheckpointColumns + " FROM records_checkpoints ORDER BY id"));
  std::vector<ArchiveCheckpoint> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(checkpoint_from(r));
  return out;
}

Status SqliteArchiveStore::add_peer_head(const std::string& origin, const ArchiveCheckpoint& h, int64_t received_ts) {
  return c_.exec("INSERT OR IGNORE INTO peer_record_heads(origin, version, archive_seq, archive_hash, audit_seq, "
                 "audit_hash, keys_seq, keys_hash, ts, key_id, signature, received_ts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                 {origin, static_cast<int64_t>(h.version), h.seq, h.hash, h.audit_seq, h.audit_hash, h.keys_seq,
                  h.keys_hash, h.ts, h.key_id, h.signature, received_ts});
}

Result<std::vector<ArchiveCheckpoint>> SqliteArchiveStore::peer_heads(const std::string& origin, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT 0, version, archive_seq, archive_hash, audit_seq, audit_hash, keys_seq, "
                                "keys_hash, ts, key_id, signature, 1 FROM (SELECT * FROM peer_record_heads "
                                "WHERE origin=? ORDER BY ts DESC LIMIT ?) ORDER BY ts",
                                {origin, limit}));
  std::vector<ArchiveCheckpoint> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(checkpoint_from(r));
  return out;
}

}  // namespace despatch::storage
