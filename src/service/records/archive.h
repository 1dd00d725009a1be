// The records archive: every persisted event is appended, in the same transaction, as a
// record sealed to the records office's public key and chained by hash to the record
// before it. Signed checkpoints pin the chain head. See "Records" in design.md.
#pragma once

#include "core/crypto.h"
#include "storage/archive_store.h"
#include "storage/database.h"

#include <map>
#include <optional>
#include <string>

namespace despatch {

struct ArchiveEntry {
  int64_t stream_pos = 0;
  std::string event_id, room_id, sender, type;
  int64_t ts = 0;
  std::string classification;
  std::string kind = "event";  // event | plaintext (decrypted E2EE content)
  std::string plaintext;       // what is sealed: the canonical JSON of the event
};

// Column values of one archive row, as verify and export read them.
using storage::ArchiveRow;

// The content hash of a row (hex). Format 1: every column but the hashes. Format 2: the
// same, with the sealed box's own hash in place of the box and live_kind for kind, so a
// tombstone's clear columns can still be checked.
std::string archive_content_hash(const ArchiveRow& row);
// The format new records are written in.
inline constexpr int kArchiveFormat = 2;
// The chain hash (hex) of data key id after the key chained before it.
std::string data_key_hash(const std::string& prev_hash, int64_t id, const std::string& sealed);
// The chain hash (hex) of a record given its predecessor's hash and its content hash.
std::string archive_chain_hash(const std::string& prev_hash, const std::string& content_hash);
inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// A records office key pair (X25519, for libsodium sealed boxes), base64 on disk.
struct RecordsKeyPair {
  std::string public_key, secret_key;  // raw 32 bytes each
  static RecordsKeyPair generate();
  // The pair a secret key belongs to (its public half derived from it).
  static Result<RecordsKeyPair> from_secret(std::string secret_key);
};
Result<std::string> load_records_public_key(const std::string& path);
Result<std::string> load_records_secret_key(const std::string& path);
// A record's sealed box (base64 of nonce || XChaCha20-Poly1305 ciphertext, the record's seq
// as associated data) opened with its data key; nullopt when it is malformed or does not
// open. Callers say what that means (a corrupt archive, a bad export file).
std::optional<std::string> open_record_box(const std::string& sealed_b64, int64_t seq, const std::string& data_key);

// Opens archived records with the records office's key pair, caching data keys read from
// archive (a read view's store).
class ArchiveOpener {
 public:
  ArchiveOpener(storage::ArchiveStore& archive, RecordsKeyPair keys) : archive_(archive), keys_(std::move(keys)) {}
  ~ArchiveOpener();
  // The record's plaintext; M_FORBIDDEN when the office key does not fit.
  Result<std::string> open(const ArchiveRow& row);

 private:
  storage::ArchiveStore& archive_;
  RecordsKeyPair keys_;
  std::map<int64_t, std::string> data_keys_;
};

// Inside a write job: signs the heads of the archive, the audit log and the data keys when
// any moved since the newest checkpoint. A checkpoint is durable when durable_every records
// or kDurableCheckpointMs passed since the last durable one, or when it covers a new audit
// entry or data key; otherwise it is the rolling
// head, which the next checkpoint replaces, so signing every second does not grow the table.
Status sign_records_heads(storage::Txn& t, const SigningKey& key, int64_t durable_every);
inline constexpr int64_t kDurableCheckpointMs = 5 * 60 * 1000;

// Inside a write job: chains data keys written before keys were chained (once, after an
// upgrade), and records in the audit log from which record on the archive is written in
// kArchiveFormat, when it does not say so yet.
Status adopt_archive_upgrade(storage::Txn& t);

class Archive {
 public:
  // checkpoint_every: records between automatic checkpoints (0: only explicit ones).
  Archive(storage::Database& db, const SigningKey& server_key, std::string records_public_key,
          int64_t checkpoint_every);

  // Inside a write job: appends entry; returns its seq.
  Result<int64_t> append(storage::Txn& t, const ArchiveEntry& entry);
  // Inside a write job: signs the current heads, if they moved since the last checkpoint.
  Status checkpoint(storage::Txn& t);
  // Signs the current heads in a write job of its own.
  boost::asio::awaitable<Status> checkpoint();
  Status checkpoint_blocking();

 private:
  Status load_head(storage::Txn& t);
  storage::Database& db_;
  const SigningKey& key_;
  std::string records_public_key_;
  int64_t checkpoint_every_;
  // Writer thread only; reloaded after a failed commit.
  bool head_loaded_ = false;
  int64_t head_seq_ = 0;
  std::string head_hash_ = kGenesisHash;
  int64_t checkpoint_seq_ = 0;
  int64_t data_key_id_ = 0;  // 0: none yet in this run
  int64_t data_key_uses_ = 0;
  std::string data_key_;
};

// What a checkpoint signs. Version 1 (archive head alone) is kept for verifying old ones.
std::string checkpoint_message(int64_t seq, const std::string& hash, int64_t ts);
std::string checkpoint_message(const storage::ArchiveCheckpoint& cp);

}  // namespace despatch
