// Server-server spec "Inviting to a room": the invitee's server (v2 /invite).
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

void add_federation_invite_routes(http::Router& r, const FederationServices& svc) {
  // PUT /_matrix/federation/v2/invite/{roomId}/{eventId}
  r.add({"PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           if (!is_valid_room_id(req.param(0))) co_return Error::invalid_param("Invalid room ID");
           if (!req.json.is_object()) co_return Error::bad_json("The body must be an object");
           // Federation is off: nothing can be countersigned.
           if (!svc.memberships) co_return Error::forbidden("This server takes no invites");
           DS_CO_ASSIGN(json::object answer, co_await svc.memberships->receive_invite(req.origin, req.param(0),
                                                                                      req.param(1), req.body_object()));
           co_return answer;
         }});
}

}  // namespace despatch::api
