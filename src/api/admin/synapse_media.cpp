// The Synapse admin API's media routes: a user's uploads, quarantine and its release.
// Deleting media is not offered: files may be part of the record.
#include "api/admin/synapse.h"

namespace despatch::api {

void add_synapse_media_routes(http::Router& r, const AdminServices& svc) {
  // GET /_synapse/admin/v1/users/{userId}/media?from=&limit=
  add_synapse(r, "GET", "/v1/users/{userId}/media", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_local_user(svc, req.param(0)));
    DS_CO_ASSIGN(int64_t from, paging_param(req, "from", 0, INT64_MAX / 2));
    DS_CO_ASSIGN(int64_t limit, paging_param(req, "limit", 100, 1000));
    DS_CO_ASSIGN(json::object out, svc.media_admin->uploads_of(req.param(0), from, limit));
    co_return out;
  });
  // POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId}, and .../unquarantine/...
  for (bool on : {true, false}) {
    auto handler = [&svc, on](Request& req) -> Awaitable {
      std::string server = req.param(0), media = req.param(1);
      if (!is_valid_server_name(server) || media.empty() || media.size() > 255)
        co_return Error::invalid_param("Invalid server name or media ID");
      DS_CO_TRY(co_await svc.media_admin->set_quarantined(server, media, on, req.who().user_id));
      co_return empty_reply();
    };
    if (on) add_synapse(r, "POST", "/v1/media/quarantine/{serverName}/{mediaId}", handler);
    else add_synapse(r, "POST", "/v1/media/unquarantine/{serverName}/{mediaId}", handler);
  }
}

}  // namespace despatch::api
