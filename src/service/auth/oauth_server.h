// Despatch as the OAuth 2.0 authorization server of the Client-Server API (spec v1.15 "OAuth
// 2.0 API"): server metadata, dynamic client registration (RFC 7591 with the spec's
// client_uri and redirect URI rules, client_registration.cpp), the authorization code grant
// with PKCE S256 (the human login itself is the OpenID Connect provider's, through
// SsoService), refresh tokens with rotation, and revocation (RFC 7009). Access tokens are
// ordinary access tokens of a device, so every endpoint treats them like a password login's.
//
// Errors carry OAuth's error codes ("invalid_grant", ...) in Error::errcode; an
// authorization request error that may go back to the client carries the URL to send the
// browser to in extra["location"].
#pragma once

#include "core/config.h"
#include "service/auth/sso_service.h"
#include "service/users/user_service.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <string>

namespace despatch {

using OAuthParams = std::map<std::string, std::string>;

inline constexpr int64_t kAuthorizationCodeLifetimeMs = 10 * 60'000;

// Checks RFC 7591 client metadata against the spec's rules and answers what is registered
// (without client_id). Errors: 400 invalid_client_metadata / invalid_redirect_uri.
Result<json::object> check_client_metadata(const json::object& metadata);
// Whether redirect_uri is one of the registered ones (a registered loopback http URI
// matches with any port, RFC 8252 7.3).
bool redirect_uri_matches(const json::array& registered, const std::string& redirect_uri);

class OAuthServer {
 public:
  OAuthServer(const Config& config, storage::Database& db, UserService& users);

  // GET /_matrix/client/v1/auth_metadata
  json::object metadata() const;
  boost::asio::awaitable<Result<json::object>> register_client(const json::object& metadata);
  // Checks an authorization request. 400 M_INVALID_PARAM when the client or redirect URI is
  // wrong (the browser must not go back to it); OAuth errors with extra["location"] else.
  boost::asio::awaitable<Result<OAuthAuthorization>> check_authorization(const OAuthParams& query);
  // The user logged in: a code for the client; the URL to send the browser back to.
  boost::asio::awaitable<Result<std::string>> grant(const std::string& user_id, const OAuthAuthorization& a);
  // Where the browser goes when the login failed.
  static std::string error_location(const OAuthAuthorization& a, const std::string& error,
                                    const std::string& description);
  // POST token_endpoint: authorization_code and refresh_token grants.
  boost::asio::awaitable<Result<json::object>> token(const OAuthParams& form);
  // POST revocation_endpoint: ends the session of an access or refresh token (its device).
  boost::asio::awaitable<Status> revoke(const OAuthParams& form);

 private:
  struct Issued {
    std::string access_token, refresh_token;
  };
  boost::asio::awaitable<Result<json::object>> code_grant(const OAuthParams& form);
  boost::asio::awaitable<Result<json::object>> refresh_grant(const OAuthParams& form);
  json::object token_reply(const Issued& issued, const std::string& scope) const;

  const Config& config_;
  storage::Database& db_;
  UserService& users_;
};

}  // namespace despatch
