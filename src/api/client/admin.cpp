// The client-server "Server administration" module (admin.yaml) and the third-party
// lookup of protocols (third_party_lookup.yaml), which a homeserver without bridges
// answers from nothing.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

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

  // GET /_matrix/client/v3/thirdparty/protocols: no bridges, so no protocols.
  add_client(r, "GET", "/thirdparty/protocols", Auth::kRequired, RateClass::kNone,
             [](Request&) -> Awaitable { co_return json::object{}; });
  // GET /_matrix/client/v3/thirdparty/protocol/{protocol}
  add_client(r, "GET", "/thirdparty/protocol/{protocol}", Auth::kRequired, RateClass::kNone,
             [](Request&) -> Awaitable { co_return Error::not_found("Unknown protocol"); });
}

}  // namespace despatch::api
