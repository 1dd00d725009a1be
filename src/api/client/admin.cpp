// The client-server "Server administration" module (admin.yaml: whois, account locking and
// suspension of spec 1.18) and the third-party
// lookup of protocols (third_party_lookup.yaml), which a homeserver without bridges
// answers from nothing.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// The checks both moderation routes share (admin.yaml): a local, existing, active account.
Result<storage::UserAccount> moderation_target(const Services& svc, const std::string& user) {
  if (!is_valid_user_id(user)) return Error::invalid_param("Invalid user ID");
  if (server_name_of(user) != svc.config.server_name) return Error::invalid_param("Not a user of this server");
  DS_ASSIGN(auto account, svc.users->account(user));
  if (!account || account->deactivated) return Error::not_found("Unknown or deactivated user");
  return *account;
}

// PUT's checks: not oneself, not another administrator.
Status may_moderate(const Request& req, const storage::UserAccount& target) {
  if (target.user_id == req.who().user_id) return Error::forbidden("You cannot do this to your own account");
  if (target.is_admin) return Error::forbidden("The target user is another administrator");
  return ok_status();
}

void add_moderation_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v1/admin/lock/{userId}
  r.add({"GET", "/_matrix/client/v1/admin/lock/{userId}", Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto target, moderation_target(svc, req.param(0)));
           co_return json::object{{"locked", target.locked}};
         }});
  // PUT /_matrix/client/v1/admin/lock/{userId} {"locked": bool}
  r.add({"PUT", "/_matrix/client/v1/admin/lock/{userId}", Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           auto* v = req.body_object().if_contains("locked");
           if (!v || !v->is_bool()) co_return Error::bad_json("locked must be a boolean");
           DS_CO_ASSIGN(auto target, moderation_target(svc, req.param(0)));
           DS_CO_TRY(may_moderate(req, target));
           bool locked = v->as_bool();
           AccountActor by{req.who().user_id, "", "client_admin_api"};
           DS_CO_TRY(co_await svc.users->set_locked(target.user_id, locked, by));
           co_return json::object{{"locked", locked}};
         }});
  // GET /_matrix/client/v1/admin/suspend/{userId}
  r.add({"GET", "/_matrix/client/v1/admin/suspend/{userId}", Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto target, moderation_target(svc, req.param(0)));
           co_return json::object{{"suspended", target.suspended}};
         }});
  // PUT /_matrix/client/v1/admin/suspend/{userId} {"suspended": bool}
  r.add({"PUT", "/_matrix/client/v1/admin/suspend/{userId}", Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           auto* v = req.body_object().if_contains("suspended");
           if (!v || !v->is_bool()) co_return Error::bad_json("suspended must be a boolean");
           DS_CO_ASSIGN(auto target, moderation_target(svc, req.param(0)));
           DS_CO_TRY(may_moderate(req, target));
           bool suspended = v->as_bool();
           AccountActor by{req.who().user_id, "", "client_admin_api"};
           DS_CO_TRY(co_await svc.users->set_suspended(target.user_id, suspended, by));
           co_return json::object{{"suspended", suspended}};
         }});
}

}  // namespace

void add_admin_client_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/admin/whois/{userId}: a user's devices and where they were last
  // seen. Server administrators may ask about anyone; others only about themselves.
  add_client(r, "GET", "/admin/whois/{userId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               const std::string& user = req.param(0);
               if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID");
               if (!req.who().is_admin && user != req.who().user_id)
                 co_return Error::forbidden("Only server administrators may look up other users");
               DS_CO_ASSIGN(auto devices, svc.users->list_devices(user));
               json::object by_device;
               for (auto& d : devices) {
                 json::array connections;
                 // Only the latest connection is kept; user agents are not recorded.
                 if (d.last_seen_ts)
                   connections.push_back(json::object{{"ip", d.last_seen_ip}, {"last_seen", d.last_seen_ts},
                                                      {"user_agent", ""}});
                 json::object session{{"connections", std::move(connections)}};
                 by_device[d.device_id] = json::object{{"sessions", json::array{std::move(session)}}};
               }
               co_return json::object{{"user_id", user}, {"devices", std::move(by_device)}};
             });

  add_moderation_routes(r, svc);

  // GET /_matrix/client/v3/thirdparty/protocols: no bridges, so no protocols.
  add_client(r, "GET", "/thirdparty/protocols", Auth::kRequired, RateClass::kNone,
             [](Request&) -> Awaitable { co_return json::object{}; });
  // GET /_matrix/client/v3/thirdparty/protocol/{protocol}
  add_client(r, "GET", "/thirdparty/protocol/{protocol}", Auth::kRequired, RateClass::kNone,
             [](Request&) -> Awaitable { co_return Error::not_found("Unknown protocol"); });
}

}  // namespace despatch::api
