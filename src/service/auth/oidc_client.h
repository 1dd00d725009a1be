// Despatch as a relying party of the department's OpenID Connect provider ([oidc]):
// discovery (<issuer>/.well-known/openid-configuration, its issuer checked), the JWK set
// (cached, fetched again for an unknown key ID), the authorization request with PKCE S256,
// state and nonce, the code exchange at the token endpoint (client_secret_basic, or
// client_secret_post when that is all the provider offers) and the ID token's checks.
#pragma once

#include "core/config.h"
#include "core/web_transport.h"
#include "service/auth/jwt.h"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>

namespace despatch {

class OidcClient {
 public:
  // redirect_uri: Despatch's callback, as registered at the provider.
  OidcClient(const Oidc& config, std::string redirect_uri, std::string client_secret, WebTransport& web);

  // The provider's authorization URL for one login.
  boost::asio::awaitable<Result<std::string>> authorization_url(const std::string& state,
                                                                const std::string& nonce,
                                                                const std::string& code_challenge);
  // Exchanges the code from the callback and checks the ID token; its claims, with those of
  // the userinfo endpoint (same sub) added where the ID token lacks the configured
  // localpart or display name claim, as standard providers keep profile claims there.
  boost::asio::awaitable<Result<json::object>> redeem(const std::string& code,
                                                      const std::string& code_verifier,
                                                      const std::string& nonce);
  const Oidc& config() const { return config_; }

 private:
  struct Metadata {
    std::string authorization_endpoint, token_endpoint, jwks_uri, userinfo_endpoint;
    bool basic_auth = true;  // client_secret_basic (else client_secret_post)
    int64_t fetched_ms = 0;
  };
  boost::asio::awaitable<Result<Metadata>> metadata();
  // The JWK set, fetched when there is none yet or when refetch and the last fetch is
  // older than a few seconds (an unknown kid: the provider may have rotated its keys).
  boost::asio::awaitable<Result<JwkSet>> jwks(const std::string& uri, bool refetch);
  boost::asio::awaitable<Result<json::object>> get_json(const std::string& url, const char* what,
                                                        const std::string& bearer = "");

  const Oidc& config_;
  std::string redirect_uri_, client_secret_;
  WebTransport& web_;
  std::mutex mu_;
  std::optional<Metadata> meta_;
  std::optional<JwkSet> jwks_;
  int64_t jwks_fetched_ms_ = 0;
};

}  // namespace despatch
