// The deprecated event stream and initial sync (spec: "Syncing", old_sync.yaml and
// room_initial_sync.yaml). SyncService builds the answers.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// The longest page of /events and the most messages per room of an initial sync.
constexpr int64_t kMaxEventsLimit = 1000;
constexpr int64_t kDefaultEventsLimit = 100;
constexpr int64_t kDefaultInitialSyncLimit = 10;

Result<bool> query_bool(const Request& req, const char* name) {
  auto* v = req.query_param(name);
  if (!v) return false;
  if (*v != "true" && *v != "false") return Error::invalid_param(std::string(name) + " must be true or false");
  return *v == "true";
}

}  // namespace

void add_old_sync_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/events
  add_client(r, "GET", "/events", Auth::kRequired, RateClass::kNone, [&svc](Request& req) -> Awaitable {
    std::string from, room_id;
    if (auto* f = req.query_param("from")) from = *f;
    if (auto* id = req.query_param("room_id")) {
      DS_CO_TRY(require_room_id(*id));
      room_id = *id;
    }
    DS_CO_ASSIGN(auto timeout, query_int(req, "timeout", 0, INT64_MAX / 2));
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, kMaxEventsLimit));
    int64_t timeout_ms = std::min(timeout.value_or(0), svc.config.max_sync_timeout_ms);
    std::string user = req.who().user_id;
    DS_CO_ASSIGN(json::object out, co_await svc.sync->events(user, req.who().device_id, from, room_id,
                                                             static_cast<int>(limit.value_or(kDefaultEventsLimit)),
                                                             timeout_ms));
    co_return out;
  });

  // GET /_matrix/client/v3/initialSync
  add_client(r, "GET", "/initialSync", Auth::kRequired, RateClass::kNone, [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, kMaxEventsLimit));
    DS_CO_ASSIGN(bool archived, query_bool(req, "archived"));
    DS_CO_ASSIGN(json::object out, svc.sync->initial_sync(req.who().user_id,
                                                          static_cast<int>(limit.value_or(kDefaultInitialSyncLimit)),
                                                          archived));
    co_return out;
  });

  // GET /_matrix/client/v3/rooms/{roomId}/initialSync
  add_client(r, "GET", "/rooms/{roomId}/initialSync", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, kMaxEventsLimit));
               DS_CO_ASSIGN(json::object out,
                            svc.sync->room_initial_sync(req.who().user_id, req.param(0),
                                                        static_cast<int>(limit.value_or(kDefaultInitialSyncLimit))));
               co_return out;
             });
}

}  // namespace despatch::api
