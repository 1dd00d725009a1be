// Accounts: registration, login, logout, whoami, password change and deactivation.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"
#include "core/log.h"

namespace despatch::api {

namespace {

json::object login_reply(const LoginResult& l, const Services& svc) {
  return json::object{{"user_id", l.user_id},
                      {"access_token", l.access_token},
                      {"device_id", l.device_id},
                      {"home_server", svc.config.server_name}};
}

}  // namespace

void add_account_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/register/available
  add_client(r, "GET", "/register/available", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               auto* name = req.query_param("username");
               if (!name) co_return Error::missing_param("username is required");
               DS_CO_TRY(svc.users->is_available(*name));
               co_return json::object{{"available", true}};
             });

  // GET /_matrix/client/v1/register/m.login.registration_token/validity?token=
  r.add({"GET", "/_matrix/client/v1/register/m.login.registration_token/validity", Auth::kNone, RateClass::kLogin,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           auto* token = req.query_param("token");
           if (!token) co_return Error::missing_param("token is required");
           DS_CO_ASSIGN(bool valid, svc.registration_tokens->valid(*token));
           co_return json::object{{"valid", valid}};
         }});

  // POST /_matrix/client/v3/register
  add_client(r, "POST", "/register", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               auto* kind = req.query_param("kind");
               if (kind && *kind == "guest")
                 co_return Error::make(403, errc::kGuestAccessForbidden, "Guest access is disabled");
               // Closed registration still lets in whoever holds a registration token.
               bool by_token = false;
               if (!svc.config.open_registration) {
                 DS_CO_ASSIGN(by_token, svc.registration_tokens->any_usable());
                 if (!by_token) co_return Error::forbidden("Registration is closed: ask an administrator for an account");
               }
               const char* stage = by_token ? "m.login.registration_token" : "m.login.dummy";
               // The auth session remembers the parameters of the request that opened it:
               // later requests in it may leave them out, and what they repeat is theirs.
               std::string session_id;
               std::optional<RegistrationSession> session;
               if (auto* a = req.body_object().if_contains("auth"); a && a->is_object())
                 if (auto* sid = a->as_object().if_contains("session"); sid && sid->is_string()) {
                   session_id = sid->as_string();
                   session = svc.users->registration(session_id);
                 }
               json::object body = session ? session->params : json::object{};
               for (auto& [k, v] : req.body_object())
                 if (k != "auth") body[k] = v;
               DS_CO_ASSIGN(auto device_id, opt_string(body, "device_id"));
               DS_CO_ASSIGN(auto display, opt_string(body, "initial_device_display_name"));
               DS_CO_ASSIGN(auto inhibit, opt_bool(body, "inhibit_login"));
               if (session && !session->user_id.empty()) {
                 // A retry of a completed registration: the same account again.
                 if (inhibit && *inhibit) co_return json::object{{"user_id", session->user_id}};
                 auto login = co_await svc.users->open_session(session->user_id, device_id.value_or(""),
                                                               display.value_or(""));
                 if (!login.ok()) co_return login.error();
                 co_return login_reply(*login, svc);
               }
               DS_CO_ASSIGN(auto username, opt_string(body, "username"));
               // The spec wants these checks before user-interactive auth.
               if (username) {
                 std::string lower = *username;
                 for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                 DS_CO_TRY(svc.users->is_available(lower));
               }
               DS_CO_ASSIGN(auto password, opt_string(body, "password"));
               std::string type, token;
               if (auto* a = req.body_object().if_contains("auth"); a && a->is_object()) {
                 if (auto* t = a->as_object().if_contains("type"); t && t->is_string()) type = t->as_string();
                 if (auto* t = a->as_object().if_contains("token"); t && t->is_string()) token = t->as_string();
               }
               bool token_ok = false;
               if (by_token && type == stage) {
                 DS_CO_ASSIGN(token_ok, svc.registration_tokens->valid(token));
               }
               if (type != stage || (by_token && !token_ok)) {
                 Error e{401, errc::kUnauthorized, "Registration needs user-interactive auth", {}};
                 if (by_token && type == stage) {
                   e.errcode = errc::kForbidden;
                   e.message = "Invalid or used-up registration token";
                 }
                 e.extra["flows"] = json::array{json::object{{"stages", json::array{stage}}}};
                 e.extra["params"] = json::object{};
                 e.extra["completed"] = json::array{};
                 e.extra["session"] = session ? session_id : svc.users->start_registration(body);
                 co_return e;
               }
               if (!password) co_return Error::missing_param("password is required");
               std::string localpart = username ? *username : "u" + random_string(12);
               for (auto& ch : localpart)
                 ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
               auto id = co_await svc.users->register_user(localpart, *password, false);
               if (!id.ok()) co_return id.error();
               if (by_token) {
                 auto counted = co_await svc.registration_tokens->consume(token);
                 if (!counted.ok() || !*counted) DS_LOG(kWarn, "registration token used up while {} registered", *id);
               }
               if (session) svc.users->finish_registration(session_id, *id);
               if (inhibit && *inhibit) co_return json::object{{"user_id", *id}};
               auto login = co_await svc.users->open_session(*id, device_id.value_or(""), display.value_or(""));
               if (!login.ok()) co_return login.error();
               co_return login_reply(*login, svc);
             });

  // GET /_matrix/client/v3/login
  add_client(r, "GET", "/login", Auth::kNone, RateClass::kNone, [&svc](Request&) -> Awaitable {
    json::array flows{json::object{{"type", "m.login.password"}}};
    if (svc.sso) {
      json::object idp{{"id", "oidc"}, {"name", svc.config.oidc.idp_name}, {"brand", "oidc"}};
      flows.push_back(json::object{{"type", "m.login.sso"}, {"identity_providers", json::array{idp}}});
      flows.push_back(json::object{{"type", "m.login.token"}});
    }
    json::object out{{"flows", std::move(flows)}};
    co_return out;
  });

  // POST /_matrix/client/v3/login
  add_client(r, "POST", "/login", Auth::kNone, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               auto& body = req.body_object();
               DS_CO_ASSIGN(std::string type, req_string(body, "type"));
               DS_CO_ASSIGN(auto device_id, opt_string(body, "device_id"));
               DS_CO_ASSIGN(auto display, opt_string(body, "initial_device_display_name"));
               if (type == "m.login.token" && svc.sso) {
                 DS_CO_ASSIGN(std::string token, req_string(body, "token"));
                 DS_CO_ASSIGN(std::string owner, co_await svc.sso->redeem_login_token(token));
                 auto login = co_await svc.users->open_session(owner, device_id.value_or(""), display.value_or(""));
                 if (!login.ok()) co_return login.error();
                 co_return login_reply(*login, svc);
               }
               if (type != "m.login.password")
                 co_return Error::make(400, errc::kUnknown, "Unsupported login type " + type);
               std::string user;
               if (auto* id = body.if_contains("identifier")) {
                 if (!id->is_object()) co_return Error::bad_json("identifier must be an object");
                 DS_CO_ASSIGN(std::string id_type, req_string(id->as_object(), "type"));
                 if (id_type != "m.id.user")
                   co_return Error::make(400, errc::kUnknown, "Only m.id.user identifiers are supported");
                 DS_CO_ASSIGN(user, req_string(id->as_object(), "user"));
               } else {
                 DS_CO_ASSIGN(auto u, opt_string(body, "user"));
                 if (!u) co_return Error::missing_param("identifier is required");
                 user = *u;
               }
               DS_CO_ASSIGN(std::string password, req_string(body, "password"));
               for (auto& ch : user) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
               auto id = svc.users->qualify(user, false);
               if (!id.ok()) co_return Error::forbidden("Invalid username or password");
               auto login = co_await svc.users->login(*id, password, device_id.value_or(""), display.value_or(""));
               if (!login.ok()) co_return login.error();
               co_return login_reply(*login, svc);
             });

  // POST /_matrix/client/v3/logout
  add_client(r, "POST", "/logout", Auth::kRequiredEvenLocked, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(co_await svc.users->logout(req.who().access_token));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/logout/all
  add_client(r, "POST", "/logout/all", Auth::kRequiredEvenLocked, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(co_await svc.users->logout_all(req.who().user_id));
               co_return empty_reply();
             });

  // GET /_matrix/client/v3/account/whoami
  add_client(r, "GET", "/account/whoami", Auth::kRequired, RateClass::kNone,
             [](Request& req) -> Awaitable {
               co_return json::object{{"user_id", req.who().user_id},
                                      {"device_id", req.who().device_id},
                                      {"is_guest", false}};
             });

  // POST /_matrix/client/v3/account/password
  add_client(r, "POST", "/account/password", Auth::kRequired, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               auto& body = req.body_object();
               DS_CO_ASSIGN(std::string pw, req_string(body, "new_password"));
               DS_CO_ASSIGN(auto logout, opt_bool(body, "logout_devices"));
               DS_CO_TRY(co_await svc.users->check_uia(req.who().user_id, body.if_contains("auth")));
               DS_CO_TRY(co_await svc.users->set_password(req.who().user_id, pw, logout.value_or(true),
                                                          req.who().device_id));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/account/deactivate
  add_client(r, "POST", "/account/deactivate", Auth::kRequired, RateClass::kLogin,
             [&svc](Request& req) -> Awaitable {
               auto& body = req.body_object();
               DS_CO_ASSIGN(auto erase, opt_bool(body, "erase"));
               std::string user = req.who().user_id;
               const json::value* auth = body.if_contains(std::string_view("auth"));
               DS_CO_TRY(co_await svc.users->check_uia(user, auth));
               AccountActor by{user, "", "self"};  // named: g++ 12 and braced temporaries in co_await
               DS_CO_TRY(co_await svc.leavers->deactivate(user, erase.value_or(false), by));
               co_return json::object{{"id_server_unbind_result", "no-support"}};
             });
}

}  // namespace despatch::api
