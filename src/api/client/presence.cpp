// Client-server "Presence" module: a user's presence status. /sync's set_presence and
// presence.events are in sync.cpp and SyncService.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

void add_presence_routes(http::Router& r, const Services& svc) {
  // PUT /_matrix/client/v3/presence/{userId}/status
  add_client(r, "PUT", "/presence/{userId}/status", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_ASSIGN(std::string presence, req_string(req.body_object(), "presence"));
               DS_CO_ASSIGN(auto status_msg, opt_string(req.body_object(), "status_msg"));
               DS_CO_TRY(svc.presence->set_status(req.who().user_id, presence, std::move(status_msg)));
               co_return empty_reply();
             });

  // GET /_matrix/client/v3/presence/{userId}/status
  add_client(r, "GET", "/presence/{userId}/status", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               if (!is_valid_user_id(req.param(0))) co_return Error::invalid_param("Invalid user ID");
               DS_CO_ASSIGN(json::object body, svc.presence->status_for(req.who().user_id, req.param(0)));
               co_return body;
             });
}

}  // namespace despatch::api
