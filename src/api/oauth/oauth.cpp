#include "api/oauth/routes.h"

#include "api/client/util.h"
#include "api/oauth/browser.h"
#include "core/web_transport.h"
#include "service/auth/form.h"

#include <algorithm>

namespace despatch::api {

namespace {

Error oauth_off() { return Error::make(404, errc::kUnrecognized, "Single sign-on is not configured on this server"); }

OAuthParams query_params(const Request& req) {
  OAuthParams out;
  for (auto& [k, v] : req.query) out.emplace(k, v);
  return out;
}

// OAuth's JSON error body (RFC 6749 5.2); errors of our own become server_error.
Reply oauth_reply(Result<json::object> r, int ok_status = 200) {
  Reply rep;
  rep.headers.emplace_back("Cache-Control", "no-store");
  rep.headers.emplace_back("Pragma", "no-cache");
  if (r.ok()) {
    rep.status = ok_status;
    rep.body = std::move(*r);
    return rep;
  }
  const Error& e = r.error();
  bool ours = e.errcode.rfind("M_", 0) == 0;
  rep.status = ours ? (e.status >= 500 ? 500 : 400) : e.status;
  rep.body = json::object{{"error", ours ? (e.status >= 500 ? "server_error" : "invalid_request") : e.errcode},
                          {"error_description", e.message}};
  return rep;
}

void add(http::Router& r, const char* method, const char* path, http::Body body, http::Handler h) {
  r.add({method, path, Auth::kNone, RateClass::kNormal, body, std::move(h)});
}

}  // namespace

void add_oauth_routes(http::Router& r, const Services& svc) {
  // GET /_despatch/oidc/callback: the provider sends the browser back here
  add(r, "GET", "/_despatch/oidc/callback", http::Body::kJson, [&svc](Request& req) -> Awaitable {
    if (!svc.sso) co_return oauth_off();
    auto* state = req.query_param("state");
    auto login = svc.sso->take(state ? *state : "");
    if (!login.ok()) co_return browser_error_page(login.error());
    auto* code = req.query_param("code");
    Result<std::string> user = Error::forbidden("The identity provider sent no code");
    if (auto* err = req.query_param("error")) {
      auto* desc = req.query_param("error_description");
      user = Error::forbidden("The identity provider refused the sign-in: " + *err + (desc ? " (" + *desc + ")" : ""));
    } else if (code) {
      user = co_await svc.sso->finish(*login, *code);
    }
    if (!login->uia_session.empty()) {
      if (!user.ok()) co_return browser_error_page(user.error());
      svc.users->complete_sso_uia(login->uia_session, *user);
      co_return browser_auth_done_page();
    }
    if (login->oauth) {
      const OAuthAuthorization& a = *login->oauth;
      if (!user.ok()) co_return browser_redirect(OAuthServer::error_location(a, "access_denied", user.error().message));
      auto location = co_await svc.oauth->grant(*user, a);
      if (!location.ok()) co_return browser_redirect(OAuthServer::error_location(a, "server_error", location.error().message));
      co_return browser_redirect(*location);
    }
    if (!user.ok()) co_return browser_error_page(user.error());
    auto token = co_await svc.sso->issue_login_token(*user);
    if (!token.ok()) co_return browser_error_page(token.error());
    FormParams token_param{{"loginToken", *token}};
    std::string target = add_url_params(login->redirect_url, token_param);
    auto url = parse_web_url(login->redirect_url);
    const auto& trusted = svc.config.oidc.trusted_client_hosts;
    if (url.ok() && std::find(trusted.begin(), trusted.end(), url->host) != trusted.end())
      co_return browser_redirect(target);
    co_return browser_confirm_page(url.ok() ? url->host : login->redirect_url, *user, target);
  });

  // GET /_despatch/oauth2/authorize
  add(r, "GET", "/_despatch/oauth2/authorize", http::Body::kJson, [&svc](Request& req) -> Awaitable {
    if (!svc.oauth) co_return oauth_off();
    auto a = co_await svc.oauth->check_authorization(query_params(req));
    if (!a.ok()) {
      if (auto* loc = a.error().extra.if_contains("location"); loc && loc->is_string())
        co_return browser_redirect(std::string(loc->as_string()));
      co_return browser_error_page(a.error());
    }
    PendingLogin login;
    login.oauth = *a;
    auto location = co_await svc.sso->start(std::move(login));
    if (!location.ok()) co_return browser_redirect(OAuthServer::error_location(*a, "server_error", location.error().message));
    co_return browser_redirect(*location);
  });

  // POST /_despatch/oauth2/token (application/x-www-form-urlencoded)
  add(r, "POST", "/_despatch/oauth2/token", http::Body::kRaw, [&svc](Request& req) -> Awaitable {
    if (!svc.oauth) co_return oauth_off();
    auto form = form_decode(req.body);
    OAuthParams params(form.begin(), form.end());
    co_return oauth_reply(co_await svc.oauth->token(params));
  });

  // POST /_despatch/oauth2/register (RFC 7591, JSON)
  add(r, "POST", "/_despatch/oauth2/register", http::Body::kJson, [&svc](Request& req) -> Awaitable {
    if (!svc.oauth) co_return oauth_off();
    if (!req.json.is_object()) co_return oauth_reply(Error{400, "invalid_client_metadata", "the body must be a JSON object", {}});
    co_return oauth_reply(co_await svc.oauth->register_client(req.body_object()), 201);
  });

  // POST /_despatch/oauth2/revoke (RFC 7009, application/x-www-form-urlencoded)
  add(r, "POST", "/_despatch/oauth2/revoke", http::Body::kRaw, [&svc](Request& req) -> Awaitable {
    if (!svc.oauth) co_return oauth_off();
    auto form = form_decode(req.body);
    OAuthParams params(form.begin(), form.end());
    auto st = co_await svc.oauth->revoke(params);
    if (!st.ok()) co_return oauth_reply(st.error());
    co_return oauth_reply(json::object{});
  });
}

}  // namespace despatch::api
