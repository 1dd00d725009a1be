// Push rules: /pushrules reads and edits (evaluation happens as events are stored).
#include "api/client/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

// Paths under /pushrules that name no rule: a scope or kind without the rest, an empty rule
// ID, a scope other than "global" (the only one; older versions had it as a parameter) or an
// attribute other than enabled and actions. They are malformed requests rather than unknown
// endpoints, so they answer 400 rather than 404. Registered after the real routes, which win.
void add_incomplete_push_rule_paths(http::Router& r) {
  auto bad = [](const char* why) {
    return [why](Request&) -> Awaitable { co_return Error::invalid_param(why); };
  };
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    add_client(r, method, "/pushrules/global", Auth::kRequired, RateClass::kNone, bad("No push rule kind given"));
    add_client(r, method, "/pushrules/global/{kind}", Auth::kRequired, RateClass::kNone, bad("No push rule ID given"));
    add_client(r, method, "/pushrules/global/{kind}/{ruleId}/{attr}", Auth::kRequired, RateClass::kNone,
               bad("A push rule attribute is enabled or actions"));
    add_client(r, method, "/pushrules/{scope}/", Auth::kRequired, RateClass::kNone, bad("Unknown push rule scope"));
    add_client(r, method, "/pushrules/{scope}/{kind}/{ruleId}", Auth::kRequired, RateClass::kNone,
               bad("Unknown push rule scope"));
  }
  for (const char* method : {"PUT", "DELETE"}) {
    add_client(r, method, "/pushrules/", Auth::kRequired, RateClass::kNone, bad("No push rule scope given"));
    add_client(r, method, "/pushrules/global/{kind}/", Auth::kRequired, RateClass::kNone, bad("Empty push rule ID"));
  }
}

}  // namespace

void add_push_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/pushrules/
  auto get_all = [&svc](Request& req) -> Awaitable {
    co_return *svc.push->effective(req.who().user_id);
  };
  add_client(r, "GET", "/pushrules/", Auth::kRequired, RateClass::kNone, get_all);
  // GET /_matrix/client/v3/pushrules/global/
  add_client(r, "GET", "/pushrules/global/", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               co_return svc.push->effective(req.who().user_id)->at("global").as_object();
             });
  // GET /_matrix/client/v3/pushrules/global/{kind}/: the rules of one kind, in order.
  add_client(r, "GET", "/pushrules/global/{kind}/", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               if (!is_push_rule_kind(req.param(0))) co_return Error::invalid_param("Unknown push rule kind");
               auto rules = svc.push->effective(req.who().user_id);
               co_return Reply(200, rules->at("global").as_object().at(req.param(0)));
             });

  // GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
  add_client(r, "GET", "/pushrules/global/{kind}/{ruleId}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object ov, svc.push->overrides(req.who().user_id));
               DS_CO_ASSIGN(json::object rule, get_push_rule(req.who().user_id, ov, req.param(0), req.param(1)));
               co_return rule;
             });
  // PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
  add_client(r, "PUT", "/pushrules/global/{kind}/{ruleId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               std::optional<std::string> before, after;
               if (auto* b = req.query_param("before")) before = *b;
               if (auto* a = req.query_param("after")) after = *a;
               std::string kind = req.param(0), id = req.param(1);
               json::object body = req.body_object();
               DS_CO_TRY(co_await svc.push->edit(req.who().user_id, [&](const json::object& ov) {
                 return put_push_rule(ov, kind, id, body,
                                      before ? std::optional<std::string_view>(*before) : std::nullopt,
                                      after ? std::optional<std::string_view>(*after) : std::nullopt);
               }));
               co_return empty_reply();
             });
  // DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
  add_client(r, "DELETE", "/pushrules/global/{kind}/{ruleId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               std::string kind = req.param(0), id = req.param(1);
               DS_CO_TRY(co_await svc.push->edit(req.who().user_id, [&](const json::object& ov) {
                 return delete_push_rule(ov, kind, id);
               }));
               co_return empty_reply();
             });

  // GET/PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled and /actions
  add_client(r, "GET", "/pushrules/global/{kind}/{ruleId}/enabled", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object ov, svc.push->overrides(req.who().user_id));
               DS_CO_ASSIGN(bool on, get_push_rule_enabled(req.who().user_id, ov, req.param(0), req.param(1)));
               co_return json::object{{"enabled", on}};
             });
  add_client(r, "GET", "/pushrules/global/{kind}/{ruleId}/actions", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object ov, svc.push->overrides(req.who().user_id));
               DS_CO_ASSIGN(json::array a, get_push_rule_actions(req.who().user_id, ov, req.param(0), req.param(1)));
               co_return json::object{{"actions", std::move(a)}};
             });
  add_client(r, "PUT", "/pushrules/global/{kind}/{ruleId}/enabled", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               std::string kind = req.param(0), id = req.param(1);
               json::object body = req.body_object();
               DS_CO_TRY(co_await svc.push->edit(req.who().user_id, [&](const json::object& ov) {
                 return set_push_rule_enabled(ov, kind, id, body);
               }));
               co_return empty_reply();
             });
  add_client(r, "PUT", "/pushrules/global/{kind}/{ruleId}/actions", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               std::string kind = req.param(0), id = req.param(1);
               json::object body = req.body_object();
               DS_CO_TRY(co_await svc.push->edit(req.who().user_id, [&](const json::object& ov) {
                 return set_push_rule_actions(ov, kind, id, body);
               }));
               co_return empty_reply();
             });

  add_incomplete_push_rule_paths(r);
}

}  // namespace despatch::api
