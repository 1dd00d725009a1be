// Server discovery: .well-known, /versions and /capabilities.
#include "api/client/routes.h"
#include "api/client/util.h"
#include "service/rooms/room_service.h"
#include "service/rooms/room_version.h"

namespace despatch::api {

void add_discovery_routes(http::Router& r, const Services& svc) {
  // GET /.well-known/matrix/client
  r.add({"GET", "/.well-known/matrix/client", Auth::kNone, RateClass::kNone, http::Body::kJson,
         [&svc](Request&) -> Awaitable {
           std::string base = svc.config.public_baseurl;
           if (base.empty())
             base = "http://" + svc.config.listen_address + ":" + std::to_string(svc.config.listen_port);
           co_return json::object{{"m.homeserver", json::object{{"base_url", base}}}};
         }});

  // GET /_matrix/client/versions
  r.add({"GET", "/_matrix/client/versions", Auth::kOptional, RateClass::kNone, http::Body::kJson,
         [](Request&) -> Awaitable {
           json::array versions{"r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4",
                                "v1.5",   "v1.6",   "v1.7",   "v1.8", "v1.9", "v1.10", "v1.11"};
           // Clients look here before using a feature: Element Web sets up cross-signing at
           // login only when e2e_cross_signing is listed.
           json::object unstable{{"org.matrix.e2e_cross_signing", true}};
           co_return json::object{{"versions", versions}, {"unstable_features", std::move(unstable)}};
         }});

  // GET /_matrix/client/v3/capabilities
  add_client(r, "GET", "/capabilities", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               json::object available;  // the versions createRoom accepts
               for (const RoomVersion& v : room_versions())
                 if (can_create_room_version(v.id)) available[v.id] = "stable";
               json::object caps{
                   {"m.change_password", json::object{{"enabled", true}}},
                   {"m.room_versions",
                    json::object{{"default", svc.config.default_room_version},
                                 {"available", available}}},
                   {"m.set_displayname", json::object{{"enabled", true}}},
                   {"m.set_avatar_url", json::object{{"enabled", true}}},
                   {"m.3pid_changes", json::object{{"enabled", false}}},
                   {"m.get_login_token", json::object{{"enabled", false}}}};
               // Spec 1.18: only for those who may use the lock and suspend endpoints.
               if (req.who().is_admin) caps["m.account_moderation"] = json::object{{"suspend", true}, {"lock", true}};
               co_return json::object{{"capabilities", caps}};
             });
}

}  // namespace despatch::api
