// The audit log (audit_log): seq -> one administrative or records action, hash-chained by
// the records service like the archive.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct AuditRecord {
  int64_t seq = 0, ts = 0;
  std::string actor, action, case_ref, details;  // details: JSON text
  std::string prev_hash, hash;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual Status append(const AuditRecord& e) = 0;
  // The newest entry, nullopt when the log is empty.
  virtual Result<std::optional<AuditRecord>> last() = 0;
  // At most limit entries newest first, with seq < before (0: from the newest).
  virtual Result<std::vector<AuditRecord>> newest(int64_t limit, int64_t before) = 0;
  // Up to limit entries with seq > after, in seq order.
  virtual Result<std::vector<AuditRecord>> entries_after(int64_t after, int64_t limit) = 0;
  // Every entry of one action, in seq order.
  virtual Result<std::vector<AuditRecord>> with_action(const std::string& action) = 0;
};

}  // namespace despatch::storage
