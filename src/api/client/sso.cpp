// Single sign-on: the legacy m.login.sso redirect (sso_login_redirect.yaml; m.login.token is
// in account.cpp's POST /login) and the OAuth 2.0 API's server metadata
// (oauth_server_metadata.yaml). The provider's callback and the authorization server's own
// endpoints are in api/oauth/.
#include "api/client/routes.h"
#include "api/client/util.h"
#include "api/oauth/browser.h"
#include "core/web_transport.h"

namespace despatch::api {

namespace {

Error sso_off() { return Error::make(404, errc::kUnrecognized, "Single sign-on is not configured on this server"); }

Awaitable redirect_to_provider(const Services& svc, Request& req) {
  if (!svc.sso) co_return sso_off();
  auto* url = req.query_param("redirectUrl");
  if (!url || url->empty()) co_return Error::missing_param("redirectUrl is required");
  if (!parse_web_url(*url).ok()) co_return Error::invalid_param("redirectUrl must be an absolute http(s) URL");
  PendingLogin login;
  login.redirect_url = *url;
  auto location = co_await svc.sso->start(std::move(login));
  if (!location.ok()) co_return browser_error_page(location.error());
  co_return browser_redirect(*location);
}

}  // namespace

void add_sso_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/login/sso/redirect
  add_client(r, "GET", "/login/sso/redirect", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable { co_return co_await redirect_to_provider(svc, req); });

  // GET /_matrix/client/v3/login/sso/redirect/{idpId}
  add_client(r, "GET", "/login/sso/redirect/{idpId}", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               if (svc.sso && req.param(0) != "oidc")
                 co_return browser_error_page(Error::not_found("Unknown identity provider " + req.param(0)));
               co_return co_await redirect_to_provider(svc, req);
             });

  // GET /_matrix/client/v3/auth/m.login.sso/fallback/web: user-interactive auth's SSO stage
  add_client(r, "GET", "/auth/m.login.sso/fallback/web", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               if (!svc.sso) co_return browser_error_page(sso_off());
               auto* session = req.query_param("session");
               if (!session || !svc.users->uia_session_open(*session))
                 co_return browser_error_page(Error::not_found("Unknown or expired authentication session"));
               PendingLogin login;
               login.uia_session = *session;
               auto location = co_await svc.sso->start(std::move(login));
               if (!location.ok()) co_return browser_error_page(location.error());
               co_return browser_redirect(*location);
             });

  // GET /_matrix/client/v1/auth_metadata, and the MSC2965 path clients used before v1.15
  http::Handler metadata = [&svc](Request&) -> Awaitable {
    if (!svc.oauth) co_return Error::make(404, errc::kUnrecognized, "The OAuth 2.0 API is not configured");
    co_return svc.oauth->metadata();
  };
  r.add({"GET", "/_matrix/client/v1/auth_metadata", Auth::kNone, RateClass::kNone, http::Body::kJson, metadata});
  r.add({"GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", Auth::kNone, RateClass::kNone,
         http::Body::kJson, metadata});
}

}  // namespace despatch::api
