// The admin API's suspicious-activity alerts (/_despatch/admin/v1/alerts): listed newest
// first, acknowledged with a note (audited by the alerts service).
#include "api/admin/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, "/_despatch/admin/v1" + path, Auth::kAdmin, RateClass::kNone, http::Body::kJson,
         std::move(h)});
}

}  // namespace

void add_admin_alert_routes(http::Router& r, const AdminServices& svc) {
  // GET /_despatch/admin/v1/alerts?include_acknowledged=true&limit=&before=
  add(r, "GET", "/alerts", [&svc](Request& req) -> Awaitable {
    auto* all = req.query_param("include_acknowledged");
    if (all && *all != "true" && *all != "false")
      co_return Error::invalid_param("include_acknowledged is true or false");
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 1000));
    DS_CO_ASSIGN(auto before, query_int(req, "before", 1, INT64_MAX));
    DS_CO_ASSIGN(json::object out,
                 svc.alerts->list(all && *all == "true", before.value_or(0), limit.value_or(100)));
    co_return out;
  });

  // POST /_despatch/admin/v1/alerts/{alertId}/acknowledge {"note": "..."}
  add(r, "POST", "/alerts/{alertId}/acknowledge", [&svc](Request& req) -> Awaitable {
    const std::string& id = req.param(0);
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
      co_return Error::not_found("No alert with that ID");
    DS_CO_ASSIGN(std::string note, req_string(req.body_object(), "note"));
    if (note.empty()) co_return Error::missing_param("note says what was done about the alert");
    if (note.size() > AlertService::kMaxNoteBytes)
      co_return Error::invalid_param("The note is too long");
    DS_CO_TRY(co_await svc.alerts->acknowledge(req.who().user_id, std::stoll(id), std::move(note)));
    co_return empty_reply();
  });
}

}  // namespace despatch::api
