#include "service/auth/oidc_client.h"

#include "core/base64.h"
#include "service/auth/form.h"
#include "service/common/time.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

constexpr int64_t kMetadataMaxAgeMs = 3600'000;
constexpr int64_t kJwksRefetchMs = 10'000;

Error provider_error(const std::string& m) { return Error::make(502, errc::kUnknown, "identity provider: " + m); }

std::string str_of(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

OidcClient::OidcClient(const Oidc& config, std::string redirect_uri, std::string client_secret,
                       WebTransport& web)
    : config_(config), redirect_uri_(std::move(redirect_uri)), client_secret_(std::move(client_secret)), web_(web) {}

asio::awaitable<Result<json::object>> OidcClient::get_json(const std::string& url, const char* what,
                                                           const std::string& bearer) {
  WebRequest req;
  req.url = url;
  req.headers["accept"] = "application/json";
  if (!bearer.empty()) req.headers["authorization"] = "Bearer " + bearer;
  auto res = co_await web_.send(std::move(req));
  if (!res.ok()) co_return provider_error(std::string("cannot fetch the ") + what + ": " + res.error().message);
  if (res->status != 200)
    co_return provider_error(std::string("the ") + what + " at " + url + " answered " + std::to_string(res->status));
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object()) co_return provider_error(std::string("the ") + what + " is not a JSON object");
  co_return std::move(v.as_object());
}

asio::awaitable<Result<OidcClient::Metadata>> OidcClient::metadata() {
  {
    std::lock_guard lock(mu_);
    if (meta_ && now_ms() - meta_->fetched_ms < kMetadataMaxAgeMs) co_return *meta_;
  }
  std::string base = config_.issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  DS_CO_ASSIGN(json::object doc, co_await get_json(base + "/.well-known/openid-configuration", "discovery document"));
  // OpenID Connect Discovery 4.3: the document must name exactly the issuer asked for.
  std::string iss = str_of(doc, "issuer");
  if (iss != config_.issuer)
    co_return provider_error("wrong issuer: the discovery document says \"" + iss + "\", [oidc] issuer is \"" +
                             config_.issuer + "\"");
  Metadata m{str_of(doc, "authorization_endpoint"), str_of(doc, "token_endpoint"), str_of(doc, "jwks_uri"),
             str_of(doc, "userinfo_endpoint"), true, now_ms()};
  if (m.authorization_endpoint.empty() || m.token_endpoint.empty() || m.jwks_uri.empty())
    co_return provider_error("the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri");
  if (auto* methods = doc.if_contains("token_endpoint_auth_methods_supported"); methods && methods->is_array()) {
    bool basic = false, post = false;
    for (auto& v : methods->as_array()) {
      if (v == "client_secret_basic") basic = true;
      if (v == "client_secret_post") post = true;
    }
    m.basic_auth = basic || !post;
  }
  std::lock_guard lock(mu_);
  meta_ = m;
  co_return m;
}

asio::awaitable<Result<JwkSet>> OidcClient::jwks(const std::string& uri, bool refetch) {
  {
    std::lock_guard lock(mu_);
    if (jwks_ && (!refetch || now_ms() - jwks_fetched_ms_ < kJwksRefetchMs)) co_return *jwks_;
  }
  DS_CO_ASSIGN(json::object doc, co_await get_json(uri, "JWK set"));
  auto set = JwkSet::parse(json::serialize(doc));
  if (!set.ok()) co_return provider_error("bad JWK set: " + set.error().message);
  std::lock_guard lock(mu_);
  jwks_ = *set;
  jwks_fetched_ms_ = now_ms();
  co_return *set;
}

asio::awaitable<Result<std::string>> OidcClient::authorization_url(const std::string& state, const std::string& nonce,
                                                                  const std::string& code_challenge) {
  DS_CO_ASSIGN(Metadata m, co_await metadata());
  std::string scope;
  for (auto& s : config_.scopes) scope += (scope.empty() ? "" : " ") + s;
  FormParams p{{"response_type", "code"},   {"client_id", config_.client_id}, {"redirect_uri", redirect_uri_},
               {"scope", scope},            {"state", state},                 {"nonce", nonce},
               {"code_challenge", code_challenge}, {"code_challenge_method", "S256"}};
  co_return add_url_params(m.authorization_endpoint, p);
}

asio::awaitable<Result<json::object>> OidcClient::redeem(const std::string& code, const std::string& code_verifier,
                                                         const std::string& nonce) {
  DS_CO_ASSIGN(Metadata m, co_await metadata());
  FormParams p{{"grant_type", "authorization_code"},
               {"code", code},
               {"redirect_uri", redirect_uri_},
               {"code_verifier", code_verifier}};
  WebRequest req;
  req.method = "POST";
  req.url = m.token_endpoint;
  req.headers["accept"] = "application/json";
  req.headers["content-type"] = "application/x-www-form-urlencoded";
  if (m.basic_auth) {
    // RFC 6749 2.3.1: both parts form-encoded before base64.
    std::string pair = percent_encode(config_.client_id) + ":" + percent_encode(client_secret_);
    std::string b64 = base64_encode(pair);
    while (b64.size() % 4) b64 += '=';
    req.headers["authorization"] = "Basic " + b64;
  } else {
    p.emplace_back("client_id", config_.client_id);
    p.emplace_back("client_secret", client_secret_);
  }
  req.body = form_encode(p);
  auto res = co_await web_.send(std::move(req));
  if (!res.ok()) co_return provider_error("cannot reach the token endpoint: " + res.error().message);
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object()) co_return provider_error("the token endpoint answered " + std::to_string(res->status) + " without JSON");
  auto& o = v.as_object();
  if (res->status != 200)
    co_return provider_error("the token endpoint refused the code: " + str_of(o, "error") + " " +
                             str_of(o, "error_description"));
  std::string id_token = str_of(o, "id_token");
  if (id_token.empty()) co_return provider_error("the token response has no id_token (is openid in [oidc] scopes?)");
  IdTokenExpect expect{config_.issuer, config_.client_id, nonce, now_ms() / 1000, 60};
  DS_CO_ASSIGN(Jwt parsed, parse_jwt(id_token));
  std::string kid = str_of(parsed.header, "kid"), alg = str_of(parsed.header, "alg");
  DS_CO_ASSIGN(JwkSet keys, co_await jwks(m.jwks_uri, false));
  if (!keys.find(kid, alg)) {
    DS_CO_ASSIGN(keys, co_await jwks(m.jwks_uri, true));
  }
  DS_CO_ASSIGN(json::object claims, verify_id_token(id_token, keys, expect));
  std::string access_token = str_of(o, "access_token");
  bool complete = claims.contains(config_.localpart_claim) && claims.contains(config_.display_name_claim);
  if (complete || m.userinfo_endpoint.empty() || access_token.empty()) co_return claims;
  DS_CO_ASSIGN(json::object info, co_await get_json(m.userinfo_endpoint, "userinfo", access_token));
  // OpenID Connect Core 5.3.2: userinfo's sub must be the ID token's, or it is not used.
  if (str_of(info, "sub") != str_of(claims, "sub"))
    co_return provider_error("the userinfo endpoint answered for another subject");
  for (auto& [k, v] : info)
    if (!claims.contains(k)) claims[k] = v;
  co_return claims;
}

}  // namespace despatch
