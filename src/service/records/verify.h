// Checks the archive and the audit log, naming the first record or entry that was changed,
// removed, inserted or reordered. What holds without outside help: the hash chains, the
// signed checkpoints over both heads and the data keys, the archive against the room log
// (every stored event has its record; a record past the last signature matches an event),
// tombstones against signed retention entries. What only a witness catches: a rewrite
// re-chained and re-signed with the server's own key (see witness.h).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <string>

namespace despatch {

struct VerifyReport {
  bool ok = true;
  int64_t records = 0, checkpoints = 0, tombstones = 0, data_keys = 0;
  int64_t unsigned_tail = 0;  // records (or entries) after the newest signed checkpoint
  int64_t first_bad_seq = 0;
  std::string problem;  // human-readable, names the record and what happened to it
};

// Over a read view (or a write job's stores). server_public_key: the raw ed25519 key that
// signed the checkpoints.
Result<VerifyReport> verify_archive(storage::Stores& s, const std::string& server_public_key);
Result<VerifyReport> verify_audit_log(storage::Stores& s, const std::string& server_public_key);

namespace verify_detail {

VerifyReport fail(VerifyReport r, int64_t seq, std::string problem);
// The data keys' chain; fills rep.data_keys and, per id, its chain hash.
Result<VerifyReport> check_data_keys(storage::Stores& s, VerifyReport rep, std::vector<std::string>* hashes);
// Every event in the room log has a record.
Result<VerifyReport> check_events_recorded(storage::Stores& s, VerifyReport rep, int64_t archive_head);
// Records after the newest checkpoint each match an event of the room log.
Result<VerifyReport> check_unsigned_tail(storage::Stores& s, VerifyReport rep, int64_t after_seq);
// The audit entry's hash at seq, nullopt when there is none.
Result<std::optional<std::string>> audit_hash_at(storage::Stores& s, int64_t seq);

}  // namespace verify_detail

}  // namespace despatch
