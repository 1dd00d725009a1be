#pragma once

#include "storage/conn.h"
#include "storage/legal_hold_store.h"

namespace despatch::storage {

class SqliteLegalHoldStore final : public LegalHoldStore {
 public:
  explicit SqliteLegalHoldStore(Conn& c) : c_(c) {}
  Result<int64_t> place(const LegalHold& hold) override;
  Result<std::optional<LegalHold>> active(int64_t id) override;
  Status lift(int64_t id, const std::string& lifted_by, int64_t lifted_ts) override;
  Result<std::vector<LegalHold>> list(bool include_lifted) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
