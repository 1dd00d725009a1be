// The audit log: every administrative and records action (legal holds, exports, searches,
// key use, retention changes, deactivations), hash-chained like the archive.
#pragma once

#include "core/crypto.h"
#include "service/records/verify.h"
#include "storage/audit_store.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace despatch {

using AuditEntry = storage::AuditRecord;

// The chain hash of an entry (from its seq, ts, actor, action, case_ref and details), which
// is archive_chain_hash(prev_hash, audit_content_hash(e)).
std::string audit_hash(const std::string& prev_hash, const AuditEntry& e);
std::string audit_content_hash(const AuditEntry& e);

// Inside a write job: appends an entry (seq and ts are filled in). Returns its seq.
Result<int64_t> audit_append(storage::Txn& t, const std::string& actor, const std::string& action,
                             const std::string& case_ref, const json::object& details);

// The audit log for callers outside a write job: handlers, tools and start-up.
class AuditLog {
 public:
  // key: the server's, to sign the records heads in each entry's commit, so an admin action
  // is covered at once rather than at the next checkpoint. Tools pass none.
  explicit AuditLog(storage::Database& db, const SigningKey* key = nullptr) : db_(db), key_(key) {}

  // Appends an entry in a write job of its own. Returns its seq.
  boost::asio::awaitable<Result<int64_t>> record(const std::string& actor, const std::string& action,
                                                 const std::string& case_ref, const json::object& details);
  Result<int64_t> record_blocking(const std::string& actor, const std::string& action,
                                  const std::string& case_ref, const json::object& details);

  // Entries newest first, at most limit, before seq `before` (0: from the newest), as the
  // admin API shows them.
  Result<json::array> entries(int64_t limit, int64_t before);

  // Checks the chain and the signed checkpoints over its head (this thread's read view).
  Result<VerifyReport> verify(const std::string& server_public_key);

 private:
  storage::Database& db_;
  const SigningKey* key_;
};

}  // namespace despatch
