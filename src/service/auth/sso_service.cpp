#include "service/auth/sso_service.h"

#include "core/ids.h"
#include "service/auth/jwt.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/users/user_service.h"
#include "storage/oauth_store.h"
#include "storage/user_store.h"

#include <cctype>

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

namespace {

std::string claim_string(const json::object& c, const std::string& name) {
  auto* v = c.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

SsoService::SsoService(const Config& config, storage::Database& db, OidcClient& oidc)
    : config_(config), db_(db), oidc_(oidc) {}

asio::awaitable<Result<std::string>> SsoService::start(PendingLogin login) {
  std::string state = random_string(32);
  login.nonce = random_string(32);
  login.code_verifier = random_string(64);
  login.expires_ms = now_ms() + kPendingLoginLifetimeMs;
  auto url = co_await oidc_.authorization_url(state, login.nonce, pkce_s256(login.code_verifier));
  if (!url.ok()) co_return url.error();
  std::lock_guard lock(mu_);
  if (pending_.size() > 10'000) {
    int64_t now = now_ms();
    for (auto it = pending_.begin(); it != pending_.end();)
      it = it->second.expires_ms < now ? pending_.erase(it) : std::next(it);
    if (pending_.size() > 10'000) co_return Error::make(429, errc::kLimitExceeded, "Too many logins in progress");
  }
  pending_[state] = std::move(login);
  co_return *url;
}

Result<PendingLogin> SsoService::take(const std::string& state) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(state);
  if (it == pending_.end() || it->second.expires_ms < now_ms())
    return Error::forbidden("This sign-in is unknown or has expired: start again from your client");
  PendingLogin out = std::move(it->second);
  pending_.erase(it);
  return out;
}

asio::awaitable<Result<std::string>> SsoService::finish(const PendingLogin& login, const std::string& code) {
  auto claims = co_await oidc_.redeem(code, login.code_verifier, login.nonce);
  if (!claims.ok()) co_return claims.error();
  co_return co_await provision(*claims, login.uia_session.empty());
}

Result<std::string> SsoService::localpart_from_claim(const std::string& value) {
  std::string v = value.substr(0, value.find('@'));
  for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // Accounts come from the directory, never from phone numbers.
  size_t digits = 0, other = 0;
  for (char ch : v) {
    if (std::isdigit(static_cast<unsigned char>(ch))) ++digits;
    else if (ch != '+' && ch != '-' && ch != ' ' && ch != '(' && ch != ')' && ch != '.') ++other;
  }
  if (digits >= 5 && other == 0)
    return Error::make(400, errc::kInvalidUsername, "\"" + value + "\" looks like a phone number, not a directory name");
  if (v.empty() || !is_valid_localpart(v) || v.size() > 200)
    return Error::make(400, errc::kInvalidUsername, "\"" + value + "\" cannot be a Matrix user name");
  return v;
}

asio::awaitable<Result<std::string>> SsoService::provision(const json::object& claims, bool create) {
  const Oidc& o = config_.oidc;
  std::string subject = claim_string(claims, "sub");
  std::string raw = claim_string(claims, o.localpart_claim);
  std::string display = claim_string(claims, o.display_name_claim);
  std::string issuer = o.issuer;
  std::string server = config_.server_name, keeper = config_.keeper_user_id();
  auto job = [=](Txn& t) -> Result<std::string> {
    DS_ASSIGN(auto known, t.oauth().identity_user(issuer, subject));
    if (known) {
      DS_ASSIGN(bool active, t.users().is_active(*known));
      if (!active) return Error{403, errc::kUserDeactivated, "This account is deactivated", {}};
      return *known;
    }
    if (!create) return Error::forbidden("You signed in as someone who has no account here");
    if (raw.empty())
      return Error::forbidden("The identity provider sent no " + o.localpart_claim + " claim to name the account by");
    DS_ASSIGN(std::string localpart, localpart_from_claim(raw));
    std::string user_id = "@" + localpart + ":" + server;
    if (user_id == keeper) return Error::make(400, errc::kUserInUse, "That name is reserved for the records keeper");
    DS_ASSIGN(bool taken, t.users().exists(user_id));
    // An existing account is never handed to the provider: an administrator decides.
    if (taken)
      return Error::make(400, errc::kUserInUse, user_id + " already exists and was not made by single sign-on");
    DS_TRY(insert_user(t, user_id, "", false));
    if (!display.empty()) DS_TRY(t.users().set_displayname(user_id, display.substr(0, 256)));
    DS_TRY(t.oauth().add_identity(issuer, subject, user_id, now_ms()));
    json::object details{{"issuer", issuer}, {"subject", subject}, {"claim", raw}};
    DS_TRY(audit_append(t, user_id, "user.sso_created", "", details));
    return user_id;
  };
  co_return co_await db_.transact<std::string>(job);
}

asio::awaitable<Result<std::string>> SsoService::issue_login_token(const std::string& user_id) {
  std::string token = "dsl_" + random_string(40);
  std::string key = access_token_key(token);
  int64_t expires = now_ms() + kLoginTokenLifetimeMs;
  auto job = [user_id, key, expires](Txn& t) -> Status {
    DS_TRY(t.oauth().remove_expired(now_ms()));
    return t.oauth().add_login_token(key, user_id, expires);
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  co_return token;
}

asio::awaitable<Result<std::string>> SsoService::redeem_login_token(const std::string& token) {
  std::string key = access_token_key(token);
  auto job = [key](Txn& t) -> Result<std::optional<std::pair<std::string, int64_t>>> {
    return t.oauth().take_login_token(key);
  };
  auto r = co_await db_.transact<std::optional<std::pair<std::string, int64_t>>>(job);
  if (!r.ok()) co_return r.error();
  if (!*r || (*r)->second < now_ms()) co_return Error::forbidden("Invalid or expired login token");
  co_return (*r)->first;
}

}  // namespace despatch
