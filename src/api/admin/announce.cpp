// The admin API's announcement channels (/_despatch/admin/v1/announce/channels): mark a
// room as a public channel with a handle, list them, remove one. Creation and removal are
// audited in the same transaction.
#include "api/admin/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

const std::string kPrefix = "/_despatch/admin/v1";

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, kPrefix + path, Auth::kAdmin, RateClass::kNone, http::Body::kJson, std::move(h)});
}

}  // namespace

void add_admin_announce_routes(http::Router& r, const AdminServices& svc) {
  // GET /_despatch/admin/v1/announce/channels
  add(r, "GET", "/announce/channels", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(json::array channels, svc.announce->list());
    co_return json::object{{"channels", std::move(channels)}};
  });
  // POST /_despatch/admin/v1/announce/channels {room_id, handle, name, summary?, min_power?}
  add(r, "POST", "/announce/channels", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(ChannelRequest cr, ChannelRequest::from_json(req.body_object()));
    DS_CO_ASSIGN(json::object made, co_await svc.announce->create(req.who().user_id, std::move(cr)));
    co_return made;
  });
  // GET /_despatch/admin/v1/announce/channels/{handle}
  add(r, "GET", "/announce/channels/{handle}", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(json::object c, svc.announce->describe(req.param(0)));
    co_return c;
  });
  // DELETE /_despatch/admin/v1/announce/channels/{handle}
  add(r, "DELETE", "/announce/channels/{handle}", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(co_await svc.announce->remove(req.who().user_id, req.param(0)));
    co_return empty_reply();
  });
}

}  // namespace despatch::api
