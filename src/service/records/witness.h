// Witnesses: copies of the chains' hashes kept outside the server's control, so that a
// rewrite of the past is caught even when whoever made it holds the server's signing key
// and re-signed everything.
//
// The server serves pages of content hashes (records, audit entries, data keys) with its
// newest signed checkpoint. A witness recomputes each chain from the last hash it holds; the
// new hashes are accepted only if they arrive exactly at the signed heads, which proves the
// server's chains still extend what the witness saw. The witness file is JSON Lines, only
// ever appended to:
//   {"type":"server","server_name":S,"key_id":K,"public_key":B64}   first line: the signer
//   {"type":"archive"|"audit"|"keys","from":N,"hashes":HEX...}      chain hashes N, N+1, ...
//   {"type":"head", checkpoint fields, "pulled_ts":MS}               each pull's signed heads
#pragma once

#include "core/result.h"
#include "service/records/verify.h"
#include "storage/archive_store.h"
#include "storage/stores.h"

#include <string>

namespace despatch {

// One page of the witness endpoint: the newest signed checkpoint (version 2), and the
// content hashes of the chains after the given positions, never beyond that checkpoint.
struct WitnessPageRequest {
  int64_t archive_after = 0, audit_after = 0, keys_after = 0;
  int64_t limit = 10000;  // per chain
};
Result<json::object> witness_page(storage::Stores& s, const WitnessPageRequest& req, const std::string& server_name,
                                  const std::string& key_id, const std::string& public_key);

json::object checkpoint_json(const storage::ArchiveCheckpoint& cp);
Result<storage::ArchiveCheckpoint> checkpoint_from_json(const json::object& o);

// What a witness file holds, read back: raw 32-byte hashes, one after another, per chain.
struct WitnessState {
  std::string server_name, key_id, public_key;  // public_key raw
  std::string archive, audit, keys;             // chain hashes of seq 1, 2, ... (32 bytes each)
  storage::ArchiveCheckpoint last_head;         // the newest head witnessed (seq 0: none)
  int64_t last_pulled_ts = 0;
  int64_t heads = 0;
  int64_t count(const std::string& chain) const { return static_cast<int64_t>(chain.size() / 32); }
};
Result<WitnessState> load_witness(const std::string& path);

// Extends state with one page from the server. Returns the lines to append once the pull
// completes (done set when the witness has reached the signed heads). An error names what
// conflicts: a head the signer's key does not sign, or chains that no longer extend what
// the witness holds.
struct WitnessPull {
  WitnessState state;
  std::string pending;  // lines not yet written
  bool done = false;
};
Status witness_extend(WitnessPull& pull, const json::object& page, int64_t now_ms);

// Checks the archive (a read view) against a witness file: every hash the witness holds
// must still be the archive's at that seq. name says which witness disagrees.
Result<VerifyReport> verify_against_witness(storage::Stores& s, const WitnessState& w, const std::string& name);

}  // namespace despatch
