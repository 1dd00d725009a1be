// The records archive: sealed data keys (archive_keys), the hash-chained records (archive)
// and the signed checkpoints over the heads of the archive, the audit log and the data
// keys (records_checkpoints). The store keeps rows; sealing, hashing and signing are the
// records service's.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

// One archive row. sealed is "" for a tombstone (the column is NULL).
// Format 2 rows also keep live_kind (the kind the record was written with; a tombstone's
// kind becomes "tombstone") and sealed_hash (SHA-256 of sealed, kept when sealed goes), so
// a tombstone's clear columns stay covered by its content hash.
struct ArchiveRow {
  int64_t seq = 0, stream_pos = 0, ts = 0, key_id = 0;
  std::string event_id, room_id, sender, type, classification, kind, sealed;
  std::string content_hash, prev_hash, hash;
  int format = 1;
  std::string live_kind, sealed_hash;
};

// One sealed data key and its place in the keys' own hash chain ("" until computed).
struct DataKeyRow {
  int64_t id = 0;
  std::string sealed, hash;
};

// The newest record's place in the chain.
struct ChainHead {
  int64_t seq = 0;
  std::string hash;
};

// A signed checkpoint. Version 1 signed the archive head alone; version 2 signs the heads
// of the archive, the audit log and the data keys together. Only durable checkpoints are
// kept: a newer one replaces the last non-durable one (the rolling head signed every second).
struct ArchiveCheckpoint {
  int64_t id = 0;
  int version = 2;
  int64_t seq = 0;  // the archive record whose hash is signed (0: none yet)
  std::string hash;
  int64_t audit_seq = 0;
  std::string audit_hash;
  int64_t keys_seq = 0;
  std::string keys_hash;
  int64_t ts = 0;
  std::string key_id, signature;
  bool durable = true;
};

// What an export or a search selects by the records' clear columns. Tombstones and the
// room keys the records keeper sealed in are never selected.
struct RecordQuery {
  std::string sender_or_member;  // "": anyone; else records it sent, and every member event
  std::string room_id;           // "": any room
  std::optional<int64_t> from_ts, to_ts;  // inclusive
};

// A record retention may delete: one that still has its content.
struct LiveRecord {
  int64_t seq = 0;
  std::string room_id, sender;
  int64_t ts = 0;
  std::string event_id, kind;
};

class ArchiveStore {
 public:
  virtual ~ArchiveStore() = default;

  // archive_keys: id -> a data key sealed to the records office, with its chain hash
  // ("" for none yet). Ids run 1, 2, 3 ...
  virtual Status add_data_key(const DataKeyRow& key) = 0;
  virtual Result<std::optional<std::string>> data_key(int64_t id) = 0;
  // Up to limit keys with id > after, in id order.
  virtual Result<std::vector<DataKeyRow>> data_keys_after(int64_t after, int64_t limit) = 0;
  // The newest key, nullopt when there is none.
  virtual Result<std::optional<DataKeyRow>> last_data_key() = 0;
  // Fills in the chain hash of a key written before keys were chained.
  virtual Status set_data_key_hash(int64_t id, const std::string& hash) = 0;

  // archive: seq -> record. Rows are appended with the next seq and never deleted.
  virtual Status append(const ArchiveRow& row) = 0;
  // The newest record, nullopt when the archive is empty.
  virtual Result<std::optional<ChainHead>> head() = 0;
  // Up to limit records with seq > after, in seq order.
  virtual Result<std::vector<ArchiveRow>> records_after(int64_t after, int64_t limit) = 0;
  // The hash of record seq, nullopt when there is none.
  virtual Result<std::optional<std::string>> hash_at(int64_t seq) = 0;
  // The seq of a record with this hash (a scan: only for diagnosing a broken chain).
  virtual Result<std::optional<int64_t>> seq_of_hash(const std::string& hash) = 0;
  // Up to limit records matching q with seq > after, in seq order.
  virtual Result<std::vector<ArchiveRow>> matching(const RecordQuery& q, int64_t after, int64_t limit) = 0;
  // Up to limit records not yet tombstoned, with ts < before_ts and seq > after, in seq order.
  virtual Result<std::vector<LiveRecord>> live_before(int64_t before_ts, int64_t after, int64_t limit) = 0;
  // Drops a record's sealed content and marks it a tombstone; its hashes stay.
  virtual Status tombstone(int64_t seq) = 0;
  // Which of event_ids have at least one record.
  virtual Result<std::vector<std::string>> recorded(const std::vector<std::string>& event_ids) = 0;

  // records_checkpoints: id -> signed heads. Returns the new id.
  virtual Result<int64_t> add_checkpoint(const ArchiveCheckpoint& cp) = 0;
  // The newest checkpoint (durable_only: the newest durable one), nullopt when none.
  virtual Result<std::optional<ArchiveCheckpoint>> last_checkpoint(bool durable_only) = 0;
  virtual Status drop_checkpoint(int64_t id) = 0;
  // Every checkpoint, oldest first.
  virtual Result<std::vector<ArchiveCheckpoint>> checkpoints() = 0;

  // peer_record_heads: the signed heads other departments' servers sent, kept as their
  // witness (a head already held is not stored twice).
  virtual Status add_peer_head(const std::string& origin, const ArchiveCheckpoint& head, int64_t received_ts) = 0;
  // The heads held for origin, oldest first, at most limit (the newest ones).
  virtual Result<std::vector<ArchiveCheckpoint>> peer_heads(const std::string& origin, int64_t limit) = 0;
};

}  // namespace despatch::storage
