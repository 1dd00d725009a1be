// Accounts: the users table (profile, admin flag, deactivation).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>

namespace despatch::storage {

struct UserProfile {
  std::optional<std::string> displayname, avatar_url;
};

class UserStore {
 public:
  virtual ~UserStore() = default;
  // The profile of a user who exists (deactivated or not), nullopt otherwise.
  virtual Result<std::optional<UserProfile>> profile(const std::string& user) = 0;
  // True for an account that exists and is not deactivated.
  virtual Result<bool> is_active(const std::string& user) = 0;
  virtual Result<bool> is_admin(const std::string& user) = 0;
};

}  // namespace despatch::storage
