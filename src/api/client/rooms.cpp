// Rooms: creation, state, single events, members, joined rooms and event context.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/canonical_json.h"

namespace despatch::api {

namespace {

constexpr size_t kMaxEventBytes = 65536;  // the spec's limit on a whole event

}  // namespace

void add_room_routes(http::Router& r, const Services& svc) {
  // POST /_matrix/client/v3/createRoom
  add_client(r, "POST", "/createRoom", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(refuse_if_suspended(req));
               DS_CO_ASSIGN(std::string room_id, co_await svc.rooms->create_room(req.who().user_id, req.body_object()));
               co_return json::object{{"room_id", room_id}};
             });

  // GET /_matrix/client/v3/joined_rooms
  add_client(r, "GET", "/joined_rooms", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(auto rooms, svc.rooms->joined_rooms(req.who().user_id));
               json::array out;
               for (auto& id : rooms) out.push_back(json::string(id));
               co_return json::object{{"joined_rooms", std::move(out)}};
             });

  // GET /_matrix/client/v3/rooms/{roomId}/state
  add_client(r, "GET", "/rooms/{roomId}/state", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(json::array state, svc.rooms->get_state(req.who().user_id, req.param(0)));
               co_return Reply(200, std::move(state));
             });

  auto get_state = [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    std::string key = req.params.size() > 2 ? req.param(2) : "";
    DS_CO_ASSIGN(json::object ev, svc.rooms->get_state_event(req.who().user_id, req.param(0), req.param(1), key));
    auto* format = req.query_param("format");
    if (format && *format == "event") co_return ev;
    co_return ev["content"].as_object();
  };
  // GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
  add_client(r, "GET", "/rooms/{roomId}/state/{eventType}/{stateKey}", Auth::kRequired, RateClass::kNone, get_state);
  add_client(r, "GET", "/rooms/{roomId}/state/{eventType}", Auth::kRequired, RateClass::kNone, get_state);
  add_client(r, "GET", "/rooms/{roomId}/state/{eventType}/", Auth::kRequired, RateClass::kNone, get_state);

  auto put_state = [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    DS_CO_TRY(refuse_if_suspended(req));
    std::string key = req.params.size() > 2 ? req.param(2) : "";
    DS_CO_TRY(check_canonical_values(req.json));
    if (req.body.size() > kMaxEventBytes) co_return Error::make(413, errc::kTooLarge, "Event too large");
    DS_CO_ASSIGN(std::string id, co_await svc.rooms->send_event(req.who().user_id, req.param(0), req.param(1),
                                                                req.body_object(), key, std::nullopt));
    co_return json::object{{"event_id", id}};
  };
  // PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
  add_client(r, "PUT", "/rooms/{roomId}/state/{eventType}/{stateKey}", Auth::kRequired, RateClass::kNormal, put_state);
  add_client(r, "PUT", "/rooms/{roomId}/state/{eventType}", Auth::kRequired, RateClass::kNormal, put_state);
  add_client(r, "PUT", "/rooms/{roomId}/state/{eventType}/", Auth::kRequired, RateClass::kNormal, put_state);

  // GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}
  add_client(r, "GET", "/rooms/{roomId}/event/{eventId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(json::object ev, svc.rooms->get_event(req.who().user_id, req.param(0), req.param(1)));
               co_return ev;
             });

  // GET /_matrix/client/v3/rooms/{roomId}/members
  add_client(r, "GET", "/rooms/{roomId}/members", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               auto* m = req.query_param("membership");
               auto* nm = req.query_param("not_membership");
               DS_CO_ASSIGN(json::array members,
                            svc.rooms->members(req.who().user_id, req.param(0), m ? *m : "", nm ? *nm : ""));
               co_return json::object{{"chunk", std::move(members)}};
             });

  // GET /_matrix/client/v3/rooms/{roomId}/joined_members
  add_client(r, "GET", "/rooms/{roomId}/joined_members", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(json::object out, svc.rooms->joined_members(req.who().user_id, req.param(0)));
               co_return out;
             });

  // GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}
  add_client(r, "GET", "/rooms/{roomId}/context/{eventId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, 1000));
               RoomEventFilter filter;
               if (auto* f = req.query_param("filter")) {
                 DS_CO_ASSIGN(filter, parse_room_event_filter_param(*f));
               }
               DS_CO_ASSIGN(json::object out,
                            svc.timeline->context(req.who().user_id, req.who().device_id, req.param(0),
                                                  req.param(1), static_cast<int>(limit.value_or(10)), filter));
               co_return out;
             });
}

}  // namespace despatch::api
