// Single sign-on's rules: a login started here and finished at the provider's callback,
// the account the provider's identity maps to (made at first login: localpart from the
// configured claim, checked, never a phone number; display name from another), and the
// legacy flow's login tokens (m.login.token: single use, two minutes).
#pragma once

#include "core/config.h"
#include "service/auth/oidc_client.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace despatch {

// An OAuth 2.0 authorization request waiting for the user's login at the provider.
struct OAuthAuthorization {
  std::string client_id, redirect_uri, scope, state, response_mode, code_challenge, device_id;
};

// A login sent to the provider, found again by the state it carries.
struct PendingLogin {
  std::string redirect_url;                 // the legacy flow: where the login token goes
  std::optional<OAuthAuthorization> oauth;  // the OAuth 2.0 flow: the request to answer
  std::string uia_session;                  // m.login.sso for user-interactive auth
  std::string nonce, code_verifier;         // filled in by start
  int64_t expires_ms = 0;
};

inline constexpr int64_t kLoginTokenLifetimeMs = 120'000;
inline constexpr int64_t kPendingLoginLifetimeMs = 15 * 60'000;

class SsoService {
 public:
  SsoService(const Config& config, storage::Database& db, OidcClient& oidc);

  // Remembers the login and answers the provider's authorization URL to send the browser to.
  boost::asio::awaitable<Result<std::string>> start(PendingLogin login);
  // The login that state names, removed (a state is good for one callback); M_FORBIDDEN
  // for an unknown or expired state.
  Result<PendingLogin> take(const std::string& state);
  // Redeems the provider's code for the login and answers the account it maps to, making
  // it on first login (never for a re-authentication, login.uia_session).
  boost::asio::awaitable<Result<std::string>> finish(const PendingLogin& login, const std::string& code);

  boost::asio::awaitable<Result<std::string>> issue_login_token(const std::string& user_id);
  // The account a login token logs in; 403 M_FORBIDDEN when it is unknown, used or expired.
  boost::asio::awaitable<Result<std::string>> redeem_login_token(const std::string& token);

  // The localpart for a claim value: up to any '@', lower-cased, checked; M_INVALID_USERNAME
  // for what cannot be one (phone numbers included).
  static Result<std::string> localpart_from_claim(const std::string& value);

 private:
  boost::asio::awaitable<Result<std::string>> provision(const json::object& claims, bool create);

  const Config& config_;
  storage::Database& db_;
  OidcClient& oidc_;
  std::mutex mu_;
  std::unordered_map<std::string, PendingLogin> pending_;  // state -> login
};

}  // namespace despatch
