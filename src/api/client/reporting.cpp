// Reporting content (spec 1.13, 1.14): rooms, events and users reported to the server's
// administrators, who list and acknowledge them in the admin API (api/admin/reports.cpp).
#include "api/client/routes.h"
#include "api/client/util.h"
#include "core/ids.h"

namespace despatch::api {

void add_report_routes(http::Router& r, const Services& svc) {
  // POST /_matrix/client/v3/rooms/{roomId}/report
  add_client(r, "POST", "/rooms/{roomId}/report", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(std::string reason, req_string(req.body_object(), "reason"));
               DS_CO_TRY(co_await svc.reports->report_room(req.who().user_id, req.param(0),
                                                           std::move(reason)));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}
  add_client(r, "POST", "/rooms/{roomId}/report/{eventId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               if (!is_valid_event_id(req.param(1)))
                 co_return Error::invalid_param("Invalid event ID");
               DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
               DS_CO_TRY(co_await svc.reports->report_event(req.who().user_id, req.param(0),
                                                            req.param(1), reason.value_or("")));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/users/{userId}/report
  add_client(r, "POST", "/users/{userId}/report", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               if (!is_valid_user_id(req.param(0)))
                 co_return Error::invalid_param("Invalid user ID");
               DS_CO_ASSIGN(std::string reason, req_string(req.body_object(), "reason"));
               DS_CO_TRY(co_await svc.reports->report_user(req.who().user_id, req.param(0),
                                                           std::move(reason)));
               co_return empty_reply();
             });
}

}  // namespace despatch::api
