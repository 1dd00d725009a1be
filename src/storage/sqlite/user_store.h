#pragma once

#include "storage/conn.h"
#include "storage/user_store.h"

namespace despatch::storage {

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(Conn& c) : c_(c) {}
  Status create(const UserAccount& a) override;
  Result<bool> exists(const std::string& user) override;
  Result<std::optional<UserAccount>> account(const std::string& user) override;
  Result<std::optional<UserProfile>> profile(const std::string& user) override;
  Result<bool> is_active(const std::string& user) override;
  Result<bool> is_admin(const std::string& user) override;
  Status set_password_hash(const std::string& user, const std::string& hash) override;
  Status set_token_expiry(const std::string& token_hash, int64_t expires_ts) override;
  Status set_displayname(const std::string& user, const std::optional<std::string>& name) override;
  Status set_avatar_url(const std::string& user, const std::optional<std::string>& url) override;
  Status deactivate(const std::string& user, bool erase) override;
  Result<std::vector<std::string>> erased_users() override;
  Status reactivate(const std::string& user) override;
  Status set_locked(const std::string& user, bool locked) override;
  Status set_suspended(const std::string& user, bool suspended) override;
  Status set_admin(const std::string& user, bool admin) override;
  Result<UserPage> list(const UserQuery& q) override;
  Result<std::vector<UserMatch>> search(const std::string& term, const std::string& after, size_t limit) override;

  Status add_token(const std::string& token_hash, const std::string& user, const std::string& device,
                   int64_t created_ts) override;
  Result<std::optional<TokenOwner>> token_owner(const std::string& token_hash) override;
  Status remove_tokens(const std::string& user, const std::string& device) override;
  Status remove_all_tokens(const std::string& user) override;
  Result<bool> has_token(const std::string& user, const std::string& device) override;
  Status retire_tokens(const std::string& user, int64_t ts) override;
  Result<std::optional<std::string>> retired_token_owner(const std::string& token_hash) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
