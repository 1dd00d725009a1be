// The audit log: every administrative and records action (legal holds, exports, searches,
// key use, retention changes, deactivations), hash-chained like the archive.
#pragma once

#include "storage/conn.h"

#include <string>

namespace despatch {

struct AuditEntry {
  int64_t seq = 0, ts = 0;
  std::string actor, action, case_ref, details;  // details: JSON text
};

std::string audit_hash(const std::string& prev_hash, const AuditEntry& e);

// Inside a write: appends an entry (seq and ts are filled in). Returns its seq.
Result<int64_t> audit_append(storage::Conn& c, const std::string& actor, const std::string& action,
                             const std::string& case_ref, const json::object& details);

// Entries newest first, at most limit, before seq `before` (0: from the newest).
Result<json::array> audit_list(storage::Conn& c, int64_t limit, int64_t before);

}  // namespace despatch
