// The records archive: sealed data keys (archive_keys), the hash-chained records (archive)
// and the signed checkpoints over the chain head (archive_checkpoints). The store keeps
// rows; sealing, hashing and signing are the records service's.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

// One archive row. sealed is "" for a tombstone (the column is NULL).
struct ArchiveRow {
  int64_t seq = 0, stream_pos = 0, ts = 0, key_id = 0;
  std::string event_id, room_id, sender, type, classification, kind, sealed;
  std::string content_hash, prev_hash, hash;
};

// The newest record's place in the chain.
struct ChainHead {
  int64_t seq = 0;
  std::string hash;
};

struct ArchiveCheckpoint {
  int64_t seq = 0;  // the record whose hash is signed
  std::string hash;
  int64_t ts = 0;
  std::string key_id, signature;
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
};

class ArchiveStore {
 public:
  virtual ~ArchiveStore() = default;

  // archive_keys: id -> a data key sealed to the records office. Returns the new id.
  virtual Result<int64_t> add_data_key(const std::string& sealed_key) = 0;
  virtual Result<std::optional<std::string>> data_key(int64_t id) = 0;

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

  // archive_checkpoints: seq -> signed chain head.
  virtual Status add_checkpoint(const ArchiveCheckpoint& cp) = 0;
  // The seq of the newest checkpoint, 0 when none.
  virtual Result<int64_t> last_checkpoint_seq() = 0;
  // Every checkpoint, in seq order.
  virtual Result<std::vector<ArchiveCheckpoint>> checkpoints() = 0;
};

}  // namespace despatch::storage
