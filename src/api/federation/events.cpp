// Server-server spec "Retrieving events", "Backfilling and retrieving missing events" and
// "Retrieving the auth chain".
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

#include <charconv>

namespace despatch::api {

namespace {

Result<std::string> event_id_param(const Request& req) {
  const std::string* id = req.query_param("event_id");
  if (!id) return Error::missing_param("event_id is required");
  if (!is_valid_event_id(*id)) return Error::invalid_param("Invalid event ID");
  return *id;
}

Status check_room(const std::string& room_id) {
  if (!is_valid_room_id(room_id)) return Error::invalid_param("Invalid room ID");
  return ok_status();
}

std::vector<std::string> string_list(const json::object& body, std::string_view key) {
  std::vector<std::string> out;
  if (auto* v = body.if_contains(key); v && v->is_array())
    for (auto& e : v->as_array())
      if (e.is_string()) out.emplace_back(e.as_string());
  return out;
}

}  // namespace

void add_federation_event_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/event/{eventId}
  r.add({"GET", "/_matrix/federation/v1/event/{eventId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           if (!is_valid_event_id(req.param(0))) co_return Error::invalid_param("Invalid event ID");
           DS_CO_ASSIGN(json::object out, svc.reads->event(req.origin, req.param(0)));
           co_return out;
         }});
  // GET /_matrix/federation/v1/state_ids/{roomId}
  r.add({"GET", "/_matrix/federation/v1/state_ids/{roomId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_room(req.param(0)));
           DS_CO_ASSIGN(std::string event_id, event_id_param(req));
           DS_CO_ASSIGN(json::object out, svc.reads->state_ids(req.origin, req.param(0), event_id));
           co_return out;
         }});
  // GET /_matrix/federation/v1/state/{roomId}
  r.add({"GET", "/_matrix/federation/v1/state/{roomId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_room(req.param(0)));
           DS_CO_ASSIGN(std::string event_id, event_id_param(req));
           DS_CO_ASSIGN(json::object out, svc.reads->state(req.origin, req.param(0), event_id));
           co_return out;
         }});
  // GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}
  r.add({"GET", "/_matrix/federation/v1/event_auth/{roomId}/{eventId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_room(req.param(0)));
           if (!is_valid_event_id(req.param(1))) co_return Error::invalid_param("Invalid event ID");
           DS_CO_ASSIGN(json::object out, svc.reads->event_auth(req.origin, req.param(0), req.param(1)));
           co_return out;
         }});
  // GET /_matrix/federation/v1/backfill/{roomId}
  r.add({"GET", "/_matrix/federation/v1/backfill/{roomId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_room(req.param(0)));
           std::vector<std::string> from;
           auto [lo, hi] = req.query.equal_range("v");
           for (auto it = lo; it != hi; ++it) {
             if (!is_valid_event_id(it->second)) co_return Error::invalid_param("Invalid event ID in v");
             from.push_back(it->second);
           }
           if (from.empty()) co_return Error::missing_param("v is required");
           const std::string* limit_text = req.query_param("limit");
           if (!limit_text) co_return Error::missing_param("limit is required");
           int limit = 0;
           auto [p, ec] = std::from_chars(limit_text->data(), limit_text->data() + limit_text->size(), limit);
           if (ec != std::errc() || p != limit_text->data() + limit_text->size() || limit < 0)
             co_return Error::invalid_param("limit must be a non-negative integer");
           DS_CO_ASSIGN(json::object out, svc.reads->backfill(req.origin, req.param(0), from, limit));
           co_return out;
         }});
  // POST /_matrix/federation/v1/get_missing_events/{roomId}
  r.add({"POST", "/_matrix/federation/v1/get_missing_events/{roomId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_TRY(check_room(req.param(0)));
           if (!req.json.is_object()) co_return Error::bad_json("The body must be an object");
           const json::object& body = req.json.as_object();
           int limit = 10;
           int64_t min_depth = 0;
           if (auto* l = body.if_contains("limit")) {
             if (!l->is_int64()) co_return Error::bad_json("limit must be an integer");
             limit = static_cast<int>(std::clamp<int64_t>(l->as_int64(), 0, 1000));
           }
           if (auto* d = body.if_contains("min_depth")) {
             if (!d->is_int64()) co_return Error::bad_json("min_depth must be an integer");
             min_depth = d->as_int64();
           }
           auto* latest = body.if_contains("latest_events");
           auto* earliest = body.if_contains("earliest_events");
           if (!latest || !latest->is_array() || !earliest || !earliest->is_array())
             co_return Error::bad_json("earliest_events and latest_events are required arrays");
           DS_CO_ASSIGN(json::object out,
                        svc.reads->missing_events(req.origin, req.param(0), string_list(body, "earliest_events"),
                                                  string_list(body, "latest_events"), limit, min_depth));
           co_return out;
         }});
}

}  // namespace despatch::api
