// Server-server spec "Device Management": the device list of one of this server's users,
// with the stream_id that later m.device_list_update EDUs follow on from.
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

void add_federation_user_device_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/user/devices/{userId}
  r.add({"GET", "/_matrix/federation/v1/user/devices/{userId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           const std::string& user = req.param(0);
           if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID");
           if (server_name_of(user) != svc.config.server_name)
             co_return Error::invalid_param("User is not local to this server");
           DS_CO_ASSIGN(bool exists, svc.users->user_exists(user));
           if (!exists) co_return Error::not_found("Unknown user");
           DS_CO_ASSIGN(json::object out, svc.e2e_keys->user_devices(user));
           co_return out;
         }});
}

}  // namespace despatch::api
