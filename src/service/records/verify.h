// Checks the archive's hash chain and signed checkpoints, and the audit log's chain, naming
// the first record that was changed, removed, inserted or reordered.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <string>

namespace despatch {

struct VerifyReport {
  bool ok = true;
  int64_t records = 0, checkpoints = 0, tombstones = 0;
  int64_t first_bad_seq = 0;
  std::string problem;  // human-readable, names the record and what happened to it
};

// Over a read view (or a write job's stores). server_public_key: the raw ed25519 key that
// signed the checkpoints.
Result<VerifyReport> verify_archive(storage::Stores& s, const std::string& server_public_key);
Result<VerifyReport> verify_audit_log(storage::Stores& s);

}  // namespace despatch
