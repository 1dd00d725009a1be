#include "storage/sqlite/oauth_store.h"

namespace despatch::storage {

Status SqliteOAuthStore::add_client(const OAuthClient& c) {
  return c_.exec("INSERT INTO oauth_clients(client_id, metadata, created_ts) VALUES(?,?,?)",
                 {c.client_id, c.metadata, c.created_ts});
}

Result<std::optional<OAuthClient>> SqliteOAuthStore::client(const std::string& client_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT client_id, metadata, created_ts FROM oauth_clients WHERE client_id=?",
                                {client_id}));
  if (!row) return std::optional<OAuthClient>{};
  return std::optional<OAuthClient>(OAuthClient{row->str(0), row->str(1), row->i64(2)});
}

Status SqliteOAuthStore::add_code(const OAuthCode& c) {
  return c_.exec(
      "INSERT INTO oauth_codes(code, client_id, redirect_uri, scope, device_id, user_id, code_challenge, "
      "expires_ts) VALUES(?,?,?,?,?,?,?,?)",
      {c.code_hash, c.client_id, c.redirect_uri, c.scope, c.device_id, c.user_id, c.code_challenge, c.expires_ts});
}

Result<std::optional<OAuthCode>> SqliteOAuthStore::take_code(const std::string& code_hash) {
  DS_ASSIGN(auto row, query_one(c_,
                                "DELETE FROM oauth_codes WHERE code=? RETURNING code, client_id, redirect_uri, "
                                "scope, device_id, user_id, code_challenge, expires_ts",
                                {code_hash}));
  if (!row) return std::optional<OAuthCode>{};
  return std::optional<OAuthCode>(OAuthCode{row->str(0), row->str(1), row->str(2), row->str(3), row->str(4),
                                            row->str(5), row->str(6), row->i64(7)});
}

Status SqliteOAuthStore::add_refresh_token(const RefreshToken& t) {
  return c_.exec(
      "INSERT INTO refresh_tokens(token, user_id, device_id, client_id, scope, created_ts) VALUES(?,?,?,?,?,?)",
      {t.token_hash, t.user_id, t.device_id, t.client_id, t.scope, t.created_ts});
}

Result<std::optional<RefreshToken>> SqliteOAuthStore::refresh_token(const std::string& token_hash) {
  DS_ASSIGN(auto row, query_one(c_,
                                "SELECT token, user_id, device_id, client_id, scope, created_ts, replaced_by "
                                "FROM refresh_tokens WHERE token=?",
                                {token_hash}));
  if (!row) return std::optional<RefreshToken>{};
  RefreshToken t{row->str(0), row->str(1), row->str(2), row->str(3), row->str(4), row->i64(5), std::nullopt};
  if (!row->is_null(6)) t.replaced_by = row->str(6);
  return std::optional<RefreshToken>(std::move(t));
}

Status SqliteOAuthStore::set_replaced_by(const std::string& token_hash, const std::string& next_hash) {
  return c_.exec("UPDATE refresh_tokens SET replaced_by=? WHERE token=?", {next_hash, token_hash});
}

Status SqliteOAuthStore::remove_refresh_token(const std::string& token_hash) {
  return c_.exec("DELETE FROM refresh_tokens WHERE token=?", {token_hash});
}

Status SqliteOAuthStore::remove_older_generations(const std::string& token_hash) {
  return c_.exec("DELETE FROM refresh_tokens WHERE replaced_by IN (SELECT token FROM refresh_tokens WHERE replaced_by=?)",
                 {token_hash});
}

Status SqliteOAuthStore::remove_refresh_tokens(const std::string& user, const std::string& device) {
  return c_.exec("DELETE FROM refresh_tokens WHERE user_id=? AND device_id=?", {user, device});
}

Status SqliteOAuthStore::add_login_token(const std::string& token_hash, const std::string& user,
                                         int64_t expires_ts) {
  return c_.exec("INSERT INTO login_tokens(token, user_id, expires_ts) VALUES(?,?,?)",
                 {token_hash, user, expires_ts});
}

Result<std::optional<std::pair<std::string, int64_t>>> SqliteOAuthStore::take_login_token(
    const std::string& token_hash) {
  DS_ASSIGN(auto row,
            query_one(c_, "DELETE FROM login_tokens WHERE token=? RETURNING user_id, expires_ts", {token_hash}));
  if (!row) return std::optional<std::pair<std::string, int64_t>>{};
  return std::optional<std::pair<std::string, int64_t>>(std::pair{row->str(0), row->i64(1)});
}

Status SqliteOAuthStore::add_identity(const std::string& issuer, const std::string& subject,
                                      const std::string& user, int64_t ts) {
  return c_.exec("INSERT INTO sso_identities(issuer, subject, user_id, created_ts) VALUES(?,?,?,?)",
                 {issuer, subject, user, ts});
}

Result<std::optional<std::string>> SqliteOAuthStore::identity_user(const std::string& issuer,
                                                                   const std::string& subject) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT user_id FROM sso_identities WHERE issuer=? AND subject=?",
                                {issuer, subject}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Result<bool> SqliteOAuthStore::is_sso_user(const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM sso_identities WHERE user_id=? LIMIT 1", {user}));
  return row.has_value();
}

Status SqliteOAuthStore::remove_expired(int64_t now) {
  DS_TRY(c_.exec("DELETE FROM oauth_codes WHERE expires_ts<?", {now}));
  return c_.exec("DELETE FROM login_tokens WHERE expires_ts<?", {now});
}

}  // namespace despatch::storage
