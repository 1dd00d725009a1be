// Server-server spec "End-to-End Encryption": the device keys, cross-signing keys and
// one-time keys of this server's users, for other servers' clients.
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// A server answers only for its own users.
Status require_local(const FederationServices& svc, std::string_view user) {
  if (!is_valid_user_id(user)) return Error::invalid_param("Invalid user ID " + std::string(user));
  if (server_name_of(user) != svc.config.server_name)
    return Error::invalid_param("User " + std::string(user) + " is not local to this server");
  return ok_status();
}

}  // namespace

void add_federation_user_key_routes(http::Router& r, const FederationServices& svc) {
  // POST /_matrix/federation/v1/user/keys/query
  r.add({"POST", "/_matrix/federation/v1/user/keys/query", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto want, opt_object(req.body_object(), "device_keys"));
           if (!want) co_return Error::missing_param("device_keys is required");
           std::map<std::string, std::set<std::string>> wanted;
           for (auto& [user, devices] : *want) {
             DS_CO_TRY(require_local(svc, user));
             if (!devices.is_array()) co_return Error::bad_json("device lists must be arrays");
             auto& only = wanted[std::string(user)];
             for (auto& d : devices.as_array()) {
               if (!d.is_string()) co_return Error::bad_json("device IDs must be strings");
               only.insert(std::string(d.as_string()));
             }
           }
           const std::string other_server;  // no requesting user: only the owners' signatures
           DS_CO_ASSIGN(json::object out, svc.e2e_keys->query_local(other_server, wanted));
           co_return out;
         }});

  // POST /_matrix/federation/v1/user/keys/claim
  r.add({"POST", "/_matrix/federation/v1/user/keys/claim", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto want, opt_object(req.body_object(), "one_time_keys"));
           if (!want) co_return Error::missing_param("one_time_keys is required");
           for (auto& [user, devices] : *want) DS_CO_TRY(require_local(svc, user));
           json::object wanted = *want;
           DS_CO_ASSIGN(json::object out, co_await svc.e2e_keys->claim_local(wanted));
           out.erase("failures");  // not part of the federation answer
           co_return out;
         }});
}

}  // namespace despatch::api
