// Sending and reading room events: /send, /redact and /messages.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/canonical_json.h"
#include "core/ids.h"

namespace despatch::api {

namespace {

constexpr size_t kMaxEventBytes = 65536;

}  // namespace

void add_event_routes(http::Router& r, const Services& svc) {
  // PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}, and the transaction-less
  // POST .../send/{eventType} of the first client API, which older clients and scripts still
  // use: each POST is a new event.
  auto send = [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    DS_CO_TRY(refuse_if_suspended(req));
    DS_CO_TRY(check_event_type(req.param(1)));
    std::optional<TxnRef> txn;
    if (req.params.size() > 2) {
      DS_CO_TRY(check_txn_id(req.param(2)));
      txn = TxnRef{req.who().device_id, req.param(2), "send:" + req.param(0) + ":"};
    }
    DS_CO_TRY(check_canonical_values(req.json));
    if (req.body.size() > kMaxEventBytes) co_return Error::make(413, errc::kTooLarge, "Event too large");
    if (req.param(1) == "m.room.redaction") co_return Error::invalid_param("Use /redact to redact events");
    DS_CO_ASSIGN(std::string id, co_await svc.rooms->send_event(req.who().user_id, req.param(0), req.param(1),
                                                                req.body_object(), std::nullopt, txn));
    co_return json::object{{"event_id", id}};
  };
  add_client(r, "PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", Auth::kRequired, RateClass::kNormal, send);
  add_client(r, "POST", "/rooms/{roomId}/send/{eventType}", Auth::kRequired, RateClass::kNormal, send);

  // PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}
  add_client(r, "PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}", Auth::kRequired,
             RateClass::kNormal, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               if (!is_valid_event_id(req.param(1))) co_return Error::invalid_param("Invalid event ID");
               DS_CO_TRY(check_txn_id(req.param(2)));
               DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
               if (req.who().suspended) {
                 // Suspended users may redact their own events only (spec 1.18).
                 auto target = svc.rooms->get_event(req.who().user_id, req.param(0), req.param(1));
                 auto* sender = target.ok() ? target->if_contains("sender") : nullptr;
                 if (!sender || !sender->is_string() || sender->as_string() != req.who().user_id)
                   DS_CO_TRY(refuse_if_suspended(req));
               }
               TxnRef txn{req.who().device_id, req.param(2), "redact:" + req.param(0) + ":"};
               DS_CO_ASSIGN(std::string id, co_await svc.rooms->redact(req.who().user_id, req.param(0),
                                                                       req.param(1), reason, txn));
               co_return json::object{{"event_id", id}};
             });

  // GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
  for (const char* suffix : {"", "/{relType}", "/{relType}/{eventType}"}) {
    r.add({"GET", std::string("/_matrix/client/v1/rooms/{roomId}/relations/{eventId}") + suffix, Auth::kRequired,
           RateClass::kNone, http::Body::kJson, [&svc](Request& req) -> Awaitable {
             DS_CO_TRY(require_room_id(req.param(0)));
             if (!is_valid_event_id(req.param(1))) co_return Error::invalid_param("Invalid event ID");
             std::string rel_type = req.params.size() > 2 ? req.param(2) : "";
             std::string event_type = req.params.size() > 3 ? req.param(3) : "";
             auto* dir = req.query_param("dir");
             if (dir && *dir != "b" && *dir != "f") co_return Error::invalid_param("dir must be b or f");
             std::optional<int64_t> from;
             if (auto* f = req.query_param("from"); f && !f->empty()) {
               from = parse_stream_token(*f);
               if (!from) co_return Error::invalid_param("Invalid from token");
             }
             DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, 1'000'000));
             DS_CO_ASSIGN(json::object out,
                          svc.timeline->relations(req.who().user_id, req.who().device_id, req.param(0), req.param(1),
                                                  rel_type, event_type, from, !dir || *dir == "b",
                                                  static_cast<int>(std::min<int64_t>(limit.value_or(50), 1000))));
             co_return out;
           }});
  }

  // GET /_matrix/client/v3/rooms/{roomId}/messages
  add_client(r, "GET", "/rooms/{roomId}/messages", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               auto* dir = req.query_param("dir");
               bool backwards = true;
               if (dir) {
                 if (*dir != "b" && *dir != "f") co_return Error::invalid_param("dir must be b or f");
                 backwards = *dir == "b";
               }
               std::optional<int64_t> from, to;
               if (auto* f = req.query_param("from"); f && !f->empty()) {
                 from = parse_stream_token(*f);
                 if (!from) co_return Error::invalid_param("Invalid from token");
               }
               if (auto* t = req.query_param("to"); t && !t->empty()) {
                 to = parse_stream_token(*t);
                 if (!to) co_return Error::invalid_param("Invalid to token");
               }
               DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, 1'000'000));
               RoomEventFilter filter;
               if (auto* f = req.query_param("filter")) {
                 DS_CO_ASSIGN(filter, parse_room_event_filter_param(*f));
               }
               int n = static_cast<int>(std::min<int64_t>(limit.value_or(filter.limit.value_or(10)), 1000));
               if (svc.backfill && backwards) {
                 // Only a member's paging reaches out to other servers.
                 auto m = svc.rooms->membership(req.param(0), req.who().user_id);
                 if (m.ok() && *m == "join")
                   co_await svc.backfill->before_page(req.param(0), from.value_or(INT64_MAX), std::max(n, 1));
               }
               DS_CO_ASSIGN(json::object out, svc.timeline->messages(req.who().user_id, req.who().device_id,
                                                                     req.param(0), from, to, backwards,
                                                                     std::max(n, 1), filter));
               co_return out;
             });
}

}  // namespace despatch::api
