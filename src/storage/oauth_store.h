// Single sign-on and the OAuth 2.0 authorization server: clients registered dynamically
// (oauth_clients), authorization codes (oauth_codes), refresh tokens (refresh_tokens), the
// legacy SSO flow's login tokens (login_tokens), and which provider identity each account
// made by single sign-on belongs to (sso_identities). Tokens and codes are stored as
// hashes only.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>

namespace despatch::storage {

struct OAuthClient {
  std::string client_id;
  std::string metadata;  // the registered metadata as JSON, as answered at registration
  int64_t created_ts = 0;
};

// An authorization code granted at the end of the authorization endpoint's login.
struct OAuthCode {
  std::string code_hash, client_id, redirect_uri, scope, device_id, user_id, code_challenge;
  int64_t expires_ts = 0;
};

struct RefreshToken {
  std::string token_hash, user_id, device_id, client_id, scope;
  int64_t created_ts = 0;
  std::optional<std::string> replaced_by;  // the hash of the token it was rotated into
};

class OAuthStore {
 public:
  virtual ~OAuthStore() = default;

  // oauth_clients: client_id -> metadata
  virtual Status add_client(const OAuthClient& c) = 0;
  virtual Result<std::optional<OAuthClient>> client(const std::string& client_id) = 0;

  // oauth_codes: code hash -> grant. take_code removes it (codes are single use).
  virtual Status add_code(const OAuthCode& c) = 0;
  virtual Result<std::optional<OAuthCode>> take_code(const std::string& code_hash) = 0;

  // refresh_tokens: token hash -> session
  virtual Status add_refresh_token(const RefreshToken& t) = 0;
  virtual Result<std::optional<RefreshToken>> refresh_token(const std::string& token_hash) = 0;
  virtual Status set_replaced_by(const std::string& token_hash, const std::string& next_hash) = 0;
  virtual Status remove_refresh_token(const std::string& token_hash) = 0;
  // Removes the tokens rotated out two rotations before this one (their successors were
  // rotated out too), so that a session keeps a few rows however often it refreshes.
  virtual Status remove_older_generations(const std::string& token_hash) = 0;
  // Every refresh token of one device (its session ended).
  virtual Status remove_refresh_tokens(const std::string& user, const std::string& device) = 0;

  // login_tokens: token hash -> (user, expiry). take_login_token removes it (single use).
  virtual Status add_login_token(const std::string& token_hash, const std::string& user,
                                 int64_t expires_ts) = 0;
  // The user and expiry of the token, nullopt for an unknown (or used) token.
  virtual Result<std::optional<std::pair<std::string, int64_t>>> take_login_token(
      const std::string& token_hash) = 0;

  // sso_identities: (issuer, subject) -> the account single sign-on made for it
  virtual Status add_identity(const std::string& issuer, const std::string& subject,
                              const std::string& user, int64_t ts) = 0;
  virtual Result<std::optional<std::string>> identity_user(const std::string& issuer,
                                                           const std::string& subject) = 0;
  // Whether single sign-on made this account (it has an identity at some provider).
  virtual Result<bool> is_sso_user(const std::string& user) = 0;
  // Removes expired codes and login tokens.
  virtual Status remove_expired(int64_t now) = 0;
};

}  // namespace despatch::storage
