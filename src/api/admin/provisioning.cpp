// The admin API of provisioning: which rooms each directory group's members belong in
// (/_despatch/admin/v1/scim), and handing a room to another member when its admins leave
// (/_despatch/admin/v1/rooms/{roomId}/hand_over). Administrators only; every change audited.
#include "api/admin/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

const std::string kPrefix = "/_despatch/admin/v1";

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, kPrefix + path, Auth::kAdmin, RateClass::kNone, http::Body::kJson, std::move(h)});
}

}  // namespace

void add_admin_provisioning_routes(http::Router& r, const AdminServices& svc) {
  // GET /_despatch/admin/v1/scim/group_rooms: {"groups": {group display name: [room IDs]}}
  add(r, "GET", "/scim/group_rooms", [&svc](Request&) -> Awaitable {
    DS_CO_ASSIGN(json::object out, svc.scim->group_rooms());
    co_return out;
  });
  // PUT /_despatch/admin/v1/scim/group_rooms/{group} {"rooms": [room IDs]}
  add(r, "PUT", "/scim/group_rooms/{group}", [&svc](Request& req) -> Awaitable {
    auto* rooms = req.body_object().if_contains("rooms");
    if (!rooms || !rooms->is_array()) co_return Error::bad_json("rooms must be an array of room IDs");
    std::vector<std::string> list;
    for (auto& v : rooms->as_array()) {
      if (!v.is_string()) co_return Error::bad_json("rooms must be an array of room IDs");
      list.emplace_back(v.as_string());
    }
    std::string group = req.param(0);
    DS_CO_TRY(co_await svc.scim->set_group_rooms(group, std::move(list), req.who().user_id));
    co_return empty_reply();
  });

  // POST /_despatch/admin/v1/rooms/{roomId}/hand_over {user_id, demote, case_ref}
  // The records keeper gives user_id the room's top power level, visibly in the room.
  add(r, "POST", "/rooms/{roomId}/hand_over", [&svc](Request& req) -> Awaitable {
    const std::string room_id = req.param(0);
    DS_CO_TRY(require_room_id(room_id));
    auto& body = req.body_object();
    DS_CO_ASSIGN(std::string to, req_string(body, "user_id"));
    if (!is_valid_user_id(to)) co_return Error::invalid_param("Invalid user_id");
    DS_CO_ASSIGN(auto demote, opt_string(body, "demote"));
    if (demote && !is_valid_user_id(*demote)) co_return Error::invalid_param("Invalid demote user ID");
    DS_CO_ASSIGN(auto case_ref, opt_string(body, "case_ref"));
    DS_CO_ASSIGN(std::string event_id, co_await svc.rooms->hand_over(room_id, to, demote));
    json::object details{{"room_id", room_id}, {"to", to}, {"event_id", event_id}};
    if (demote) details["demoted"] = *demote;
    const std::string action = "room.hand_over", ref = case_ref.value_or("");
    auto audited = co_await svc.audit->record(req.who().user_id, action, ref, details);
    if (!audited.ok()) co_return audited.error();
    co_return json::object{{"event_id", event_id}};
  });
}

}  // namespace despatch::api
