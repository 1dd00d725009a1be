#pragma once

#include "storage/account_change_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteAccountChangeStore final : public AccountChangeStore {
 public:
  explicit SqliteAccountChangeStore(Conn& c) : c_(c) {}
  Result<int64_t> append(const AccountChange& c) override;
  Result<std::vector<AccountChange>> after(int64_t seq, int64_t limit) override;
  Result<int64_t> last_seq() override;
  Status mark_done(int64_t seq, int64_t ts) override;
  Result<std::vector<AccountChange>> pending(int64_t limit) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
