#pragma once

#include "storage/conn.h"
#include "storage/oauth_store.h"

namespace despatch::storage {

class SqliteOAuthStore final : public OAuthStore {
 public:
  explicit SqliteOAuthStore(Conn& c) : c_(c) {}
  Status add_client(const OAuthClient& c) override;
  Result<std::optional<OAuthClient>> client(const std::string& client_id) override;
  Status add_code(const OAuthCode& c) override;
  Result<std::optional<OAuthCode>> take_code(const std::string& code_hash) override;
  Status add_refresh_token(const RefreshToken& t) override;
  Result<std::optional<RefreshToken>> refresh_token(const std::string& token_hash) override;
  Status set_replaced_by(const std::string& token_hash, const std::string& next_hash) override;
  Status remove_refresh_token(const std::string& token_hash) override;
  Status remove_older_generations(const std::string& token_hash) override;
  Status remove_refresh_tokens(const std::string& user, const std::string& device) override;
  Status add_login_token(const std::string& token_hash, const std::string& user, int64_t expires_ts) override;
  Result<std::optional<std::pair<std::string, int64_t>>> take_login_token(const std::string& token_hash) override;
  Status add_identity(const std::string& issuer, const std::string& subject, const std::string& user,
                      int64_t ts) override;
  Result<std::optional<std::string>> identity_user(const std::string& issuer, const std::string& subject) override;
  Result<bool> is_sso_user(const std::string& user) override;
  Status remove_expired(int64_t now) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
