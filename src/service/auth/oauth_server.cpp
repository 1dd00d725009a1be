#include "service/auth/oauth_server.h"

#include "core/ids.h"
#include "service/auth/form.h"
#include "service/auth/jwt.h"
#include "service/common/time.h"
#include "storage/device_store.h"
#include "storage/oauth_store.h"
#include "storage/user_store.h"

#include <sstream>

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

namespace {

constexpr const char* kApiScopes[] = {"urn:matrix:client:api:*", "urn:matrix:org.matrix.msc2967.client:api:*"};
constexpr const char* kDeviceScopes[] = {"urn:matrix:client:device:", "urn:matrix:org.matrix.msc2967.client:device:"};

Error oauth_error(const char* code, const std::string& m, int status = 400) { return Error{status, code, m, {}}; }

std::string param(const OAuthParams& p, const char* k) {
  auto it = p.find(k);
  return it == p.end() ? std::string() : it->second;
}

// RFC 3986 unreserved characters, as the spec asks device IDs to use.
bool valid_device_id(const std::string& d) {
  if (d.empty() || d.size() > 255) return false;
  for (char c : d)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' && c != '~') return false;
  return true;
}

}  // namespace

OAuthServer::OAuthServer(const Config& config, storage::Database& db, UserService& users)
    : config_(config), db_(db), users_(users) {}

json::object OAuthServer::metadata() const {
  std::string base = config_.base_url();
  return json::object{
      {"issuer", base + "/"},
      {"authorization_endpoint", base + "/_despatch/oauth2/authorize"},
      {"token_endpoint", base + "/_despatch/oauth2/token"},
      {"registration_endpoint", base + "/_despatch/oauth2/register"},
      {"revocation_endpoint", base + "/_despatch/oauth2/revoke"},
      {"response_types_supported", json::array{"code"}},
      {"grant_types_supported", json::array{"authorization_code", "refresh_token"}},
      {"response_modes_supported", json::array{"query", "fragment"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"token_endpoint_auth_methods_supported", json::array{"none"}},
      {"revocation_endpoint_auth_methods_supported", json::array{"none"}},
      {"scopes_supported", json::array{"urn:matrix:client:api:*", "urn:matrix:client:device:*"}},
      // Accounts are made at first sign-in from the directory; "create" signs in the same way.
      {"prompt_values_supported", json::array{"create"}},
  };
}

asio::awaitable<Result<json::object>> OAuthServer::register_client(const json::object& metadata) {
  DS_CO_ASSIGN(json::object registered, check_client_metadata(metadata));
  std::string client_id = random_string(24);
  registered["client_id"] = client_id;
  registered["client_id_issued_at"] = now_ms() / 1000;
  storage::OAuthClient row{client_id, json::serialize(registered), now_ms()};
  auto job = [row](Txn& t) -> Status { return t.oauth().add_client(row); };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  co_return registered;
}

std::string OAuthServer::error_location(const OAuthAuthorization& a, const std::string& error,
                                        const std::string& description) {
  FormParams p{{"error", error}, {"error_description", description}, {"state", a.state}};
  return add_url_params(a.redirect_uri, p, a.response_mode == "fragment");
}

asio::awaitable<Result<OAuthAuthorization>> OAuthServer::check_authorization(const OAuthParams& q) {
  OAuthAuthorization a;
  a.client_id = param(q, "client_id");
  a.redirect_uri = param(q, "redirect_uri");
  auto client = db_.read().oauth().client(a.client_id);
  if (!client.ok()) co_return client.error();
  if (a.client_id.empty() || !*client) co_return Error::invalid_param("Unknown client_id: register the client first");
  boost::system::error_code ec;
  json::value meta = json::parse((*client)->metadata, ec);
  const json::array* uris = nullptr;
  if (!ec && meta.is_object())
    if (auto* u = meta.as_object().if_contains("redirect_uris"); u && u->is_array()) uris = &u->as_array();
  if (!uris || !redirect_uri_matches(*uris, a.redirect_uri))
    co_return Error::invalid_param("redirect_uri is not one the client registered");
  a.state = param(q, "state");
  a.response_mode = param(q, "response_mode");
  if (a.response_mode.empty()) a.response_mode = "query";
  auto fail = [&](const char* code, const std::string& m) {
    Error e = oauth_error(code, m, 302);
    if (a.response_mode != "query" && a.response_mode != "fragment") a.response_mode = "query";
    e.extra["location"] = error_location(a, code, m);
    return e;
  };
  if (a.response_mode != "query" && a.response_mode != "fragment")
    co_return fail("invalid_request", "response_mode must be query or fragment");
  if (param(q, "response_type") != "code") co_return fail("unsupported_response_type", "response_type must be code");
  if (param(q, "code_challenge_method") != "S256")
    co_return fail("invalid_request", "PKCE with code_challenge_method S256 is required");
  a.code_challenge = param(q, "code_challenge");
  if (a.code_challenge.size() != 43) co_return fail("invalid_request", "code_challenge must be a base64url SHA-256");
  std::istringstream tokens(param(q, "scope"));
  bool api = false;
  int devices = 0;
  std::string granted;
  for (std::string tok; tokens >> tok;) {
    bool known = false;
    for (auto* s : kApiScopes)
      if (tok == s) api = known = true;
    for (auto* prefix : kDeviceScopes)
      if (tok.rfind(prefix, 0) == 0) {
        a.device_id = tok.substr(std::string(prefix).size());
        ++devices;
        known = true;
      }
    if (known) granted += (granted.empty() ? "" : " ") + tok;
  }
  if (!api) co_return fail("invalid_scope", "scope must include urn:matrix:client:api:*");
  if (devices != 1) co_return fail("invalid_scope", "scope must hold exactly one urn:matrix:client:device:<device_id>");
  if (!valid_device_id(a.device_id))
    co_return fail("invalid_scope", "the device ID may use only A-Z a-z 0-9 - . _ ~ (1 to 255 of them)");
  a.scope = granted;
  co_return a;
}

asio::awaitable<Result<std::string>> OAuthServer::grant(const std::string& user_id, const OAuthAuthorization& a) {
  std::string code = random_string(40);
  storage::OAuthCode row{access_token_key(code), a.client_id, a.redirect_uri, a.scope, a.device_id,
                         user_id, a.code_challenge, now_ms() + kAuthorizationCodeLifetimeMs};
  auto job = [row](Txn& t) -> Status {
    DS_TRY(t.oauth().remove_expired(now_ms()));
    return t.oauth().add_code(row);
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  FormParams p{{"state", a.state}, {"code", code}};
  co_return add_url_params(a.redirect_uri, p, a.response_mode == "fragment");
}

json::object OAuthServer::token_reply(const Issued& issued, const std::string& scope) const {
  return json::object{{"access_token", issued.access_token},
                      {"token_type", "Bearer"},
                      {"refresh_token", issued.refresh_token},
                      {"expires_in", config_.oidc.access_token_seconds},
                      {"scope", scope}};
}

asio::awaitable<Result<json::object>> OAuthServer::token(const OAuthParams& form) {
  std::string grant = param(form, "grant_type");
  if (grant == "authorization_code") co_return co_await code_grant(form);
  if (grant == "refresh_token") co_return co_await refresh_grant(form);
  co_return oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
}

asio::awaitable<Result<json::object>> OAuthServer::code_grant(const OAuthParams& form) {
  std::string code = param(form, "code"), verifier = param(form, "code_verifier");
  std::string client_id = param(form, "client_id"), redirect_uri = param(form, "redirect_uri");
  if (code.empty() || verifier.empty() || client_id.empty() || redirect_uri.empty())
    co_return oauth_error("invalid_request", "code, code_verifier, client_id and redirect_uri are required");
  std::string key = access_token_key(code);
  // The code is used up by this request whatever its outcome.
  auto take = [key](Txn& t) -> Result<std::optional<storage::OAuthCode>> { return t.oauth().take_code(key); };
  auto taken = co_await db_.transact<std::optional<storage::OAuthCode>>(take);
  if (!taken.ok()) co_return taken.error();
  const auto& g = *taken;
  if (!g || g->expires_ts < now_ms()) co_return oauth_error("invalid_grant", "unknown, used or expired code");
  if (g->client_id != client_id) co_return oauth_error("invalid_grant", "the code was issued to another client");
  if (g->redirect_uri != redirect_uri) co_return oauth_error("invalid_grant", "redirect_uri differs from the authorization request's");
  if (!valid_pkce_verifier(verifier) || pkce_s256(verifier) != g->code_challenge)
    co_return oauth_error("invalid_grant", "code_verifier does not match the code_challenge");
  auto client = db_.read().oauth().client(client_id);
  if (!client.ok()) co_return client.error();
  std::string device_name;
  if (*client) {
    boost::system::error_code ec;
    json::value meta = json::parse((*client)->metadata, ec);
    if (!ec && meta.is_object())
      if (auto* n = meta.as_object().if_contains("client_name"); n && n->is_string()) device_name = n->as_string();
  }
  Issued issued{"dsp_" + random_string(40), "dsr_" + random_string(40)};
  storage::RefreshToken rt{access_token_key(issued.refresh_token), g->user_id, g->device_id, client_id, g->scope,
                           now_ms(), std::nullopt};
  std::string access_key = access_token_key(issued.access_token);
  int64_t lifetime_ms = config_.oidc.access_token_seconds * 1000;
  auto job = [rt, access_key, device_name, lifetime_ms](Txn& t) -> Status {
    DS_ASSIGN(bool active, t.users().is_active(rt.user_id));
    if (!active) return oauth_error("invalid_grant", "the account is deactivated");
    int64_t now = now_ms();
    // A new login on the device replaces its old session, as a password login does.
    DS_TRY(t.users().remove_tokens(rt.user_id, rt.device_id));
    DS_TRY(t.oauth().remove_refresh_tokens(rt.user_id, rt.device_id));
    std::optional<std::string> name;
    if (!device_name.empty()) name = device_name;
    DS_TRY(t.devices().add_or_touch(rt.user_id, rt.device_id, name, now));
    DS_TRY(t.users().add_token(access_key, rt.user_id, rt.device_id, now));
    DS_TRY(t.users().set_token_expiry(access_key, now + lifetime_ms));
    return t.oauth().add_refresh_token(rt);
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  users_.forget_sessions(g->user_id, g->device_id);
  co_return token_reply(issued, g->scope);
}

asio::awaitable<Result<json::object>> OAuthServer::refresh_grant(const OAuthParams& form) {
  std::string refresh = param(form, "refresh_token"), client_id = param(form, "client_id");
  if (refresh.empty()) co_return oauth_error("invalid_request", "refresh_token is required");
  Issued issued{"dsp_" + random_string(40), "dsr_" + random_string(40)};
  std::string old_key = access_token_key(refresh), new_key = access_token_key(issued.refresh_token);
  std::string access_key = access_token_key(issued.access_token);
  struct Outcome {
    storage::RefreshToken row;
    bool reused = false;  // an invalidated token came back: the session is ended
  };
  int64_t lifetime_ms = config_.oidc.access_token_seconds * 1000;
  auto job = [old_key, new_key, access_key, client_id, lifetime_ms](Txn& t) -> Result<Outcome> {
    DS_ASSIGN(auto row, t.oauth().refresh_token(old_key));
    if (!row) return oauth_error("invalid_grant", "unknown or revoked refresh token");
    if (!client_id.empty() && row->client_id != client_id)
      return oauth_error("invalid_grant", "the refresh token was issued to another client");
    if (row->replaced_by) {
      DS_ASSIGN(auto next, t.oauth().refresh_token(*row->replaced_by));
      // The answer to an earlier refresh may have been lost: while its token is unused the
      // old one may still be retried, and the unused one is dropped.
      if (!next || next->replaced_by) return Outcome{*row, true};
      DS_TRY(t.oauth().remove_refresh_token(next->token_hash));
    }
    DS_ASSIGN(bool active, t.users().is_active(row->user_id));
    if (!active) return oauth_error("invalid_grant", "the account is deactivated");
    storage::RefreshToken fresh = *row;
    fresh.token_hash = new_key;
    fresh.created_ts = now_ms();
    fresh.replaced_by.reset();
    DS_TRY(t.oauth().add_refresh_token(fresh));
    DS_TRY(t.oauth().set_replaced_by(old_key, new_key));
    // The token before this one stays, so that its reuse is recognised; older ones go.
    DS_TRY(t.oauth().remove_older_generations(old_key));
    DS_TRY(t.users().remove_tokens(row->user_id, row->device_id));
    DS_TRY(t.users().add_token(access_key, row->user_id, row->device_id, now_ms()));
    DS_TRY(t.users().set_token_expiry(access_key, now_ms() + lifetime_ms));
    return Outcome{*row, false};
  };
  auto r = co_await db_.transact<Outcome>(job);
  if (!r.ok()) co_return r.error();
  if (r->reused) {
    std::vector<std::string> device{r->row.device_id};
    auto ended = co_await users_.delete_devices(r->row.user_id, device);
    if (!ended.ok()) co_return ended.error();
    co_return oauth_error("invalid_grant", "this refresh token was already used: the session has been ended");
  }
  users_.forget_sessions(r->row.user_id, r->row.device_id);
  co_return token_reply(issued, r->row.scope);
}

asio::awaitable<Status> OAuthServer::revoke(const OAuthParams& form) {
  std::string token = param(form, "token");
  if (token.empty()) co_return oauth_error("invalid_request", "token is required");
  auto row = db_.read().oauth().refresh_token(access_token_key(token));
  if (!row.ok()) co_return row.error();
  if (*row) {
    std::vector<std::string> device{(*row)->device_id};
    co_return co_await users_.delete_devices((*row)->user_id, device);
  }
  // An access token, or one already revoked or never issued (RFC 7009 2.2: 200 all the same).
  co_return co_await users_.logout(token);
}

}  // namespace despatch
