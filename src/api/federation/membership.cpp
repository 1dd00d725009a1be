// Server-server spec "Joining Rooms", "Leaving Rooms (Rejecting Invites)" and "Knocking upon
// a room": make_join/send_join (v2), make_leave/send_leave (v2) and make_knock/send_knock
// (v1) as a resident server.
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// make_*: the room and user of the path, the user being the asking server's.
Status check_member_path(const Request& req) {
  if (!is_valid_room_id(req.param(0))) return Error::invalid_param("Invalid room ID");
  if (!is_valid_user_id(req.param(1))) return Error::invalid_param("Invalid user ID");
  if (server_name_of(req.param(1)) != req.origin) return Error::forbidden("A server may only act for its own users");
  return ok_status();
}

}  // namespace

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
  // GET /_matrix/federation/v1/make_leave/{roomId}/{userId}
  r.add({"GET", "/_matrix/federation/v1/make_leave/{roomId}/{userId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_member_path(req));
           DS_CO_ASSIGN(json::object tmpl, svc.rooms->member_template(req.param(0), req.param(1), "leave", {}));
           co_return tmpl;
         }});
  // PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}
  r.add({"PUT", "/_matrix/federation/v2/send_leave/{roomId}/{eventId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           if (!is_valid_room_id(req.param(0))) co_return Error::invalid_param("Invalid room ID");
           if (!req.json.is_object()) co_return Error::bad_json("The body must be the leave event");
           DS_CO_TRY(co_await svc.rooms->accept_member(req.origin, req.param(0), req.param(1), req.body_object(),
                                                       "leave"));
           co_return json::object{};
         }});
  // GET /_matrix/federation/v1/make_knock/{roomId}/{userId}
  r.add({"GET", "/_matrix/federation/v1/make_knock/{roomId}/{userId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_member_path(req));
           std::vector<std::string> versions;
           auto [from, to] = req.query.equal_range("ver");
           for (auto it = from; it != to; ++it) versions.push_back(it->second);
           // ver is required here; none at all would otherwise mean any version.
           if (versions.empty()) co_return Error::missing_param("ver is required");
           DS_CO_ASSIGN(json::object tmpl, svc.rooms->member_template(req.param(0), req.param(1), "knock", versions));
           co_return tmpl;
         }});
  // PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}
  r.add({"PUT", "/_matrix/federation/v1/send_knock/{roomId}/{eventId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           if (!is_valid_room_id(req.param(0))) co_return Error::invalid_param("Invalid room ID");
           if (!req.json.is_object()) co_return Error::bad_json("The body must be the knock event");
           DS_CO_TRY(co_await svc.rooms->accept_member(req.origin, req.param(0), req.param(1), req.body_object(),
                                                       "knock"));
           DS_CO_ASSIGN(json::array state, svc.rooms->stripped_room_state(req.param(0)));
           json::object out;
           out["knock_room_state"] = std::move(state);
           co_return out;
         }});
}

}  // namespace despatch::api
