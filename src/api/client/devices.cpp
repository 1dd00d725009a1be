// Device management: list, get, rename and delete (with user-interactive auth).
#include "api/client/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

// Named rather than literal: g++ 12 miscompiles string literals inside co_await arguments.
constexpr std::string_view kAuth = "auth";

json::object device_json(const DeviceInfo& d) {
  json::object o{{"device_id", d.device_id}};
  if (!d.display_name.empty()) o["display_name"] = d.display_name;
  if (d.last_seen_ts) o["last_seen_ts"] = d.last_seen_ts;
  if (!d.last_seen_ip.empty()) o["last_seen_ip"] = d.last_seen_ip;
  return o;
}

}  // namespace

void add_device_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/devices
  add_client(r, "GET", "/devices", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(auto devices, svc.users->list_devices(req.who().user_id));
               json::array out;
               for (auto& d : devices) out.push_back(device_json(d));
               co_return json::object{{"devices", std::move(out)}};
             });

  // GET /_matrix/client/v3/devices/{deviceId}
  add_client(r, "GET", "/devices/{deviceId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(auto d, svc.users->get_device(req.who().user_id, req.param(0)));
               co_return device_json(d);
             });

  // PUT /_matrix/client/v3/devices/{deviceId}
  add_client(r, "PUT", "/devices/{deviceId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(auto name, opt_string(req.body_object(), "display_name"));
               if (!name) {
                 DS_CO_TRY(svc.users->get_device(req.who().user_id, req.param(0)));
                 co_return empty_reply();
               }
               DS_CO_TRY(co_await svc.users->update_device(req.who().user_id, req.param(0), *name));
               co_return empty_reply();
             });

  // DELETE /_matrix/client/v3/devices/{deviceId}
  add_client(r, "DELETE", "/devices/{deviceId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(svc.users->get_device(req.who().user_id, req.param(0)));
               const json::value* auth = req.body_object().if_contains(kAuth);
               DS_CO_TRY(co_await svc.users->check_uia(req.who().user_id, auth));
               std::vector<std::string> ids{req.param(0)};
               DS_CO_TRY(co_await svc.users->delete_devices(req.who().user_id, ids));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/delete_devices
  add_client(r, "POST", "/delete_devices", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               auto* ids = req.body_object().if_contains("devices");
               if (!ids || !ids->is_array()) co_return Error::bad_json("devices must be an array");
               std::vector<std::string> devices;
               for (auto& d : ids->as_array()) {
                 if (!d.is_string()) co_return Error::bad_json("devices must hold strings");
                 devices.emplace_back(d.as_string());
               }
               const json::value* auth = req.body_object().if_contains(kAuth);
               DS_CO_TRY(co_await svc.users->check_uia(req.who().user_id, auth));
               DS_CO_TRY(co_await svc.users->delete_devices(req.who().user_id, devices));
               co_return empty_reply();
             });
}

}  // namespace despatch::api
