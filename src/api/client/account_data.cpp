// Account data, global and per room, and room tags (stored as m.tag room account data).
#include "api/client/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

// Types the server manages itself; clients change them through their own endpoints.
Status check_writable_type(const std::string& type) {
  if (type == "m.fully_read" || type == "m.push_rules")
    return Error::make(405, errc::kBadJson, "Use the dedicated endpoint to change " + type);
  if (type.empty() || type.size() > 255) return Error::invalid_param("Invalid account data type");
  return ok_status();
}

}  // namespace

void add_account_data_routes(http::Router& r, const Services& svc) {
  // PUT /_matrix/client/v3/user/{userId}/account_data/{type}
  add_client(r, "PUT", "/user/{userId}/account_data/{type}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(check_writable_type(req.param(1)));
               DS_CO_TRY(co_await svc.account->put_account_data(req.who().user_id, "", req.param(1), req.body_object()));
               co_return empty_reply();
             });
  // GET /_matrix/client/v3/user/{userId}/account_data/{type}
  add_client(r, "GET", "/user/{userId}/account_data/{type}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_ASSIGN(json::object c, svc.account->get_account_data(req.who().user_id, "", req.param(1)));
               co_return c;
             });
  // PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}
  add_client(r, "PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}", Auth::kRequired,
             RateClass::kNormal, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(require_room_id(req.param(1)));
               DS_CO_TRY(check_writable_type(req.param(2)));
               DS_CO_TRY(co_await svc.account->put_account_data(req.who().user_id, req.param(1), req.param(2),
                                                                req.body_object()));
               co_return empty_reply();
             });
  // GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}
  add_client(r, "GET", "/user/{userId}/rooms/{roomId}/account_data/{type}", Auth::kRequired,
             RateClass::kNone, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(require_room_id(req.param(1)));
               DS_CO_ASSIGN(json::object c, svc.account->get_account_data(req.who().user_id, req.param(1), req.param(2)));
               co_return c;
             });

  // GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags
  add_client(r, "GET", "/user/{userId}/rooms/{roomId}/tags", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(require_room_id(req.param(1)));
               auto c = svc.account->get_account_data(req.who().user_id, req.param(1), "m.tag");
               if (!c.ok()) co_return json::object{{"tags", json::object{}}};
               co_return *c;
             });
  // PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
  add_client(r, "PUT", "/user/{userId}/rooms/{roomId}/tags/{tag}", Auth::kRequired,
             RateClass::kNormal, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(require_room_id(req.param(1)));
               if (req.param(2).size() > 255) co_return Error::invalid_param("Tag too long");
               if (auto* o = req.body_object().if_contains("order"); o && !o->is_number())
                 co_return Error::bad_json("order must be a number");
               auto c = svc.account->get_account_data(req.who().user_id, req.param(1), "m.tag");
               json::object content = c.ok() ? *c : json::object{};
               if (!content["tags"].is_object()) content["tags"] = json::object{};
               content["tags"].as_object()[req.param(2)] = req.body_object();
               DS_CO_TRY(co_await svc.account->put_account_data(req.who().user_id, req.param(1), "m.tag", content));
               co_return empty_reply();
             });
  // DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
  add_client(r, "DELETE", "/user/{userId}/rooms/{roomId}/tags/{tag}", Auth::kRequired,
             RateClass::kNormal, [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_self(req, req.param(0)));
               DS_CO_TRY(require_room_id(req.param(1)));
               auto c = svc.account->get_account_data(req.who().user_id, req.param(1), "m.tag");
               json::object content = c.ok() ? *c : json::object{};
               if (!content["tags"].is_object()) content["tags"] = json::object{};
               content["tags"].as_object().erase(req.param(2));
               DS_CO_TRY(co_await svc.account->put_account_data(req.who().user_id, req.param(1), "m.tag", content));
               co_return empty_reply();
             });
}

}  // namespace despatch::api
