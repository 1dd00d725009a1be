// Server-server spec "Joining Rooms": make_join and send_join (v2) as a resident server.
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

void add_federation_membership_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/make_join/{roomId}/{userId}
  r.add({"GET", "/_matrix/federation/v1/make_join/{roomId}/{userId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           if (!is_valid_room_id(req.param(0))) co_return Error::invalid_param("Invalid room ID");
           if (!is_valid_user_id(req.param(1))) co_return Error::invalid_param("Invalid user ID");
           if (server_name_of(req.param(1)) != req.origin)
             co_return Error::forbidden("A server may only join its own users");
           std::vector<std::string> versions;
           auto [from, to] = req.query.equal_range("ver");
           for (auto it = from; it != to; ++it) versions.push_back(it->second);
           // No ver at all means room version 1 only (spec).
           if (versions.empty()) versions.push_back("1");
           DS_CO_ASSIGN(json::object tmpl, svc.rooms->join_template(req.param(0), req.param(1), versions));
           co_return tmpl;
         }});
  // PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}
  r.add({"PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           if (!is_valid_room_id(req.param(0))) co_return Error::invalid_param("Invalid room ID");
           if (!req.json.is_object()) co_return Error::bad_json("The body must be the join event");
           DS_CO_ASSIGN(json::object answer,
                        co_await svc.rooms->accept_join(req.origin, req.param(0), req.param(1), req.body_object()));
           co_return answer;
         }});
}

}  // namespace despatch::api
