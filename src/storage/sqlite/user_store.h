#pragma once

#include "storage/conn.h"
#include "storage/user_store.h"

namespace despatch::storage {

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(Conn& c) : c_(c) {}
  Result<std::optional<UserProfile>> profile(const std::string& user) override;
  Result<bool> is_active(const std::string& user) override;
  Result<bool> is_admin(const std::string& user) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
