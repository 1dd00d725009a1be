#pragma once

#include "storage/audit_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(Conn& c) : c_(c) {}
  Status append(const AuditRecord& e) override;
  Result<std::optional<AuditRecord>> last() override;
  Result<std::vector<AuditRecord>> newest(int64_t limit, int64_t before) override;
  Result<std::vector<AuditRecord>> entries_after(int64_t after, int64_t limit) override;
  Result<std::vector<AuditRecord>> with_action(const std::string& action) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
