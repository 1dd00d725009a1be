// /sync, filters, typing notifications, receipts and read markers.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// The parameters of a /sync, checked. A plain function, so that none of its temporaries
// lives in the frame of the request while it is parked.
Result<SyncRequest> parse_sync_request(Request& req, const Services& svc) {
  SyncRequest s;
  s.user_id = req.who().user_id;
  s.device_id = req.who().device_id;
  if (auto* since = req.query_param("since")) s.since = *since;
  if (auto* fs = req.query_param("full_state")) {
    if (*fs != "true" && *fs != "false") return Error::invalid_param("full_state must be true or false");
    s.full_state = *fs == "true";
  }
  if (auto* p = req.query_param("set_presence")) {
    if (*p != "online" && *p != "offline" && *p != "unavailable")
      return Error::invalid_param("set_presence must be online, offline or unavailable");
    s.set_presence = *p;
  }
  DS_ASSIGN(auto timeout, query_int(req, "timeout", 0, INT64_MAX / 2));
  s.timeout_ms = std::min(timeout.value_or(0), svc.config.max_sync_timeout_ms);
  if (auto* f = req.query_param("filter")) {
    std::string user = s.user_id;
    DS_ASSIGN(Filter filter, resolve_filter_param(*f, [&svc, user](std::string_view id) {
                auto v = svc.account->get_filter(user, id);
                return v.ok() ? *v : std::nullopt;
              }));
    s.filter = std::make_shared<const Filter>(std::move(filter));
  }
  return s;
}

Awaitable run_sync(const Services& svc, Result<SyncRequest> s) {
  if (!s.ok()) co_return s.error();
  DS_CO_ASSIGN(json::object out, co_await svc.sync->sync(*s));
  co_return out;
}

}  // namespace

void add_sync_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/sync
  add_client(r, "GET", "/sync", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable { return run_sync(svc, parse_sync_request(req, svc)); });

  // POST /_matrix/client/v3/user/{userId}/filter
  add_client(r, "POST", "/user/{userId}/filter", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(parse_filter(req.json));
               DS_CO_ASSIGN(std::string id, co_await svc.account->create_filter(req.who().user_id, req.body_object()));
               co_return json::object{{"filter_id", id}};
             });

  // GET /_matrix/client/v3/user/{userId}/filter/{filterId}
  add_client(r, "GET", "/user/{userId}/filter/{filterId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_ASSIGN(auto f, svc.account->get_filter(req.who().user_id, req.param(1)));
               if (!f) co_return Error::not_found("Unknown filter");
               co_return f->as_object();
             });

  // PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}
  add_client(r, "PUT", "/rooms/{roomId}/typing/{userId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_TRY(require_self(req, req.param(1)));
               auto* typing = req.body_object().if_contains("typing");
               if (!typing || !typing->is_bool()) co_return Error::bad_json("typing must be a boolean");
               DS_CO_ASSIGN(auto timeout, opt_int(req.body_object(), "timeout"));
               DS_CO_ASSIGN(std::string m, svc.rooms->membership(req.param(0), req.who().user_id));
               if (m != "join") co_return Error::forbidden("You are not in this room");
               int64_t ms = std::clamp<int64_t>(timeout.value_or(30'000), 1'000, 120'000);
               svc.typing->set(req.param(0), req.who().user_id, typing->as_bool(), std::chrono::milliseconds(ms));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}
  add_client(r, "POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", Auth::kRequired,
             RateClass::kNone, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               const std::string& type = req.param(1);
               if (type != "m.read" && type != "m.read.private" && type != "m.fully_read")
                 co_return Error::invalid_param("Unknown receipt type " + type);
               if (!is_valid_event_id(req.param(2))) co_return Error::invalid_param("Invalid event ID");
               DS_CO_ASSIGN(auto thread, opt_string(req.body_object(), "thread_id"));
               if (type == "m.fully_read") {
                 // The same rule as /read_markers, which writes the same marker.
                 DS_CO_ASSIGN(std::string m, svc.rooms->membership(req.param(0), req.who().user_id));
                 if (m != "join") co_return Error::forbidden("You are not in this room");
                 json::object content{{"event_id", req.param(2)}};
                 DS_CO_TRY(co_await svc.account->put_account_data(req.who().user_id, req.param(0), type, content));
                 co_return empty_reply();
               }
               std::string thread_id = thread && *thread != "main" ? *thread : std::string();
               DS_CO_TRY(co_await svc.account->put_receipt(req.who().user_id, req.param(0), type, req.param(2),
                                                           thread_id));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/rooms/{roomId}/read_markers
  add_client(r, "POST", "/rooms/{roomId}/read_markers", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               auto& body = req.body_object();
               DS_CO_ASSIGN(auto fully, opt_string(body, "m.fully_read"));
               DS_CO_ASSIGN(auto read, opt_string(body, "m.read"));
               DS_CO_ASSIGN(auto priv, opt_string(body, "m.read.private"));
               for (auto* id : {&fully, &read, &priv})
                 if (*id && !is_valid_event_id(**id)) co_return Error::invalid_param("Invalid event ID");
               DS_CO_ASSIGN(std::string m, svc.rooms->membership(req.param(0), req.who().user_id));
               if (m != "join") co_return Error::forbidden("You are not in this room");
               // Names held in strings: g++ 12 miscompiles literals inside co_await arguments.
               const std::string fully_type = "m.fully_read", read_type = "m.read",
                                 private_type = "m.read.private", no_thread;
               const std::string& user = req.who().user_id;
               const std::string& room = req.param(0);
               if (fully) {
                 json::object content{{"event_id", *fully}};
                 DS_CO_TRY(co_await svc.account->put_account_data(user, room, fully_type, content));
               }
               if (read) DS_CO_TRY(co_await svc.account->put_receipt(user, room, read_type, *read, no_thread));
               if (priv) DS_CO_TRY(co_await svc.account->put_receipt(user, room, private_type, *priv, no_thread));
               co_return empty_reply();
             });
}

}  // namespace despatch::api
