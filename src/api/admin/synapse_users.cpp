// The Synapse admin API's user routes, so existing scripts and admin consoles work:
// shared-secret registration, v2/users (list, get, create or modify), deactivate,
// reset_password, whois, server_version. Logging in as another user is not offered.
#include "api/admin/synapse.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

json::object user_json(const storage::UserAccount& a) {
  json::object o{{"name", a.user_id},
                 {"is_guest", false},
                 {"admin", a.is_admin},
                 {"user_type", nullptr},
                 {"deactivated", a.deactivated},
                 {"erased", a.erased},
                 {"locked", a.locked},
                 {"suspended", a.suspended},
                 {"shadow_banned", false},
                 {"creation_ts", a.created_ts / 1000},
                 {"appservice_id", nullptr},
                 {"consent_server_notice_sent", nullptr},
                 {"consent_version", nullptr},
                 {"consent_ts", nullptr},
                 {"external_ids", json::array{}},
                 {"threepids", json::array{}}};
  o["displayname"] = a.profile.displayname ? json::value(*a.profile.displayname) : json::value(nullptr);
  o["avatar_url"] = a.profile.avatar_url ? json::value(*a.profile.avatar_url) : json::value(nullptr);
  return o;
}

bool query_true(const Request& req, const char* name) {
  auto* v = req.query_param(name);
  return v && (*v == "true" || *v == "1");
}

AccountActor synapse_actor(const Request& req) { return AccountActor{req.who().user_id, "", "synapse_admin"}; }

// PUT /_synapse/admin/v2/users/{userId}: the fields Despatch honours, checked.
struct UserChange {
  std::optional<std::string> password, displayname;
  std::optional<bool> admin, deactivated, locked, logout_devices;
};

Result<UserChange> parse_change(const json::object& body) {
  UserChange c;
  DS_ASSIGN(c.password, opt_string(body, "password"));
  DS_ASSIGN(c.displayname, opt_string(body, "displayname"));
  DS_ASSIGN(c.admin, opt_bool(body, "admin"));
  DS_ASSIGN(c.deactivated, opt_bool(body, "deactivated"));
  DS_ASSIGN(c.locked, opt_bool(body, "locked"));
  DS_ASSIGN(c.logout_devices, opt_bool(body, "logout_devices"));
  if (c.displayname && c.displayname->size() > 256) return Error::invalid_param("displayname is too long");
  for (const char* unsupported : {"threepids", "external_ids", "user_type"})
    if (auto* v = body.if_contains(unsupported); v && !v->is_null() && !(v->is_array() && v->as_array().empty()))
      return Error::invalid_param(std::string(unsupported) + " is not supported by Despatch");
  return c;
}

}  // namespace

void add_synapse_user_routes(http::Router& r, const AdminServices& svc) {
  // GET /_synapse/admin/v1/register: a one-use nonce (no access token: the shared secret
  // is the authority).
  add_synapse(
      r, "GET", "/v1/register",
      [&svc](Request&) -> Awaitable {
        DS_CO_ASSIGN(std::string nonce, svc.shared_secret->nonce());
        co_return json::object{{"nonce", nonce}};
      },
      Auth::kNone);
  // POST /_synapse/admin/v1/register {nonce, username, password, admin, mac, displayname}
  add_synapse(
      r, "POST", "/v1/register",
      [&svc](Request& req) -> Awaitable {
        auto& body = req.body_object();
        SharedSecretRequest s;
        DS_CO_ASSIGN(s.nonce, req_string(body, "nonce"));
        DS_CO_ASSIGN(s.username, req_string(body, "username"));
        DS_CO_ASSIGN(s.password, req_string(body, "password"));
        DS_CO_ASSIGN(s.mac, req_string(body, "mac"));
        DS_CO_ASSIGN(auto admin, opt_bool(body, "admin"));
        DS_CO_ASSIGN(auto displayname, opt_string(body, "displayname"));
        s.admin = admin.value_or(false);
        s.displayname = displayname.value_or("");
        bool is_admin = s.admin;
        DS_CO_ASSIGN(LoginResult out, co_await svc.shared_secret->register_user(std::move(s)));
        std::string actor = "shared_secret", action = "register";
        json::object details{{"user_id", out.user_id}, {"admin", is_admin}};
        DS_CO_TRY(co_await synapse_audit(svc, actor, action, std::move(details)));
        co_return json::object{{"user_id", out.user_id},
                               {"access_token", out.access_token},
                               {"device_id", out.device_id},
                               {"home_server", svc.users->config().server_name}};
      },
      Auth::kNone);

  // GET /_synapse/admin/v1/server_version
  add_synapse(r, "GET", "/v1/server_version", [](Request&) -> Awaitable {
    co_return json::object{{"server_version", "despatch 0.1.0"}};
  });

  // GET /_synapse/admin/v2/users?from=&limit=&name=&user_id=&guests=&deactivated=&admins=
  add_synapse(r, "GET", "/v2/users", [&svc](Request& req) -> Awaitable {
    storage::UserQuery q;
    DS_CO_ASSIGN(q.from, paging_param(req, "from", 0, INT64_MAX / 2));
    DS_CO_ASSIGN(q.limit, paging_param(req, "limit", 100, 1000));
    if (auto* n = req.query_param("name")) q.name = *n;
    if (auto* n = req.query_param("user_id")) q.name = *n;
    q.include_deactivated = query_true(req, "deactivated");
    q.admins_only = query_true(req, "admins");
    json::array users;
    int64_t total = 0;
    // There are no guest accounts, so guests=true or false lists the same.
    DS_CO_ASSIGN(storage::UserPage page, svc.users->list_accounts(q));
    total = page.total;
    for (auto& a : page.users) users.push_back(user_json(a));
    json::object out{{"users", std::move(users)}, {"total", total}};
    if (q.from + static_cast<int64_t>(page.users.size()) < total)
      out["next_token"] = std::to_string(q.from + static_cast<int64_t>(page.users.size()));
    co_return out;
  });

  // GET /_synapse/admin/v2/users/{userId}
  add_synapse(r, "GET", "/v2/users/{userId}", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_local_user(svc, req.param(0)));
    DS_CO_ASSIGN(auto account, svc.users->account(req.param(0)));
    if (!account) co_return Error::not_found("User not found");
    co_return user_json(*account);
  });

  // PUT /_synapse/admin/v2/users/{userId}: 201 when the account is made, 200 when changed.
  add_synapse(r, "PUT", "/v2/users/{userId}", [&svc](Request& req) -> Awaitable {
    const std::string user = req.param(0);
    DS_CO_TRY(require_local_user(svc, user));
    DS_CO_ASSIGN(UserChange c, parse_change(req.body_object()));
    AccountActor by = synapse_actor(req);
    DS_CO_ASSIGN(auto account, svc.users->account(user));
    bool created = false;
    if (!account) {
      if (c.deactivated.value_or(false)) co_return Error::invalid_param("A new account cannot start deactivated");
      std::string password = c.password.value_or("");
      if (password.empty()) co_return Error::missing_param("A new account needs a password");
      std::string localpart(localpart_of(user));
      DS_CO_TRY(co_await svc.users->register_user(localpart, password, c.admin.value_or(false)));
      created = true;
    } else {
      if (c.deactivated && !*c.deactivated && account->deactivated) {
        if (!c.password) co_return Error::missing_param("Reactivating an account needs a password");
        DS_CO_TRY(co_await svc.users->reactivate(user, *c.password, by));
      } else if (c.password) {
        DS_CO_TRY(co_await svc.users->reset_password(user, *c.password, c.logout_devices.value_or(true), by));
      }
      if (c.admin && *c.admin != account->is_admin) {
        if (user == req.who().user_id && !*c.admin)
          co_return Error::forbidden("You may not demote yourself");
        DS_CO_TRY(co_await svc.users->set_admin(user, *c.admin, by));
      }
      if (c.locked && *c.locked != account->locked) DS_CO_TRY(co_await svc.users->set_locked(user, *c.locked, by));
    }
    if (c.displayname) {
      std::string field = "displayname";
      DS_CO_TRY(co_await svc.users->set_profile_field(user, field, *c.displayname));
      co_await svc.rooms->propagate_profile(user);
    }
    if (c.deactivated && *c.deactivated && !(account && account->deactivated)) {
      DS_CO_TRY(co_await svc.leavers->deactivate(user, false, by));
    }
    std::string action = created ? "user.create" : "user.modify";
    json::object details{{"user_id", user}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    DS_CO_ASSIGN(auto now, svc.users->account(user));
    if (!now) co_return Error::internal("the account vanished");
    co_return Reply(created ? 201 : 200, user_json(*now));
  });

  // POST /_synapse/admin/v1/deactivate/{userId} {erase}
  add_synapse(r, "POST", "/v1/deactivate/{userId}", [&svc](Request& req) -> Awaitable {
    const std::string user = req.param(0);
    DS_CO_TRY(require_local_user(svc, user));
    DS_CO_ASSIGN(auto erase, opt_bool(req.body_object(), "erase"));
    AccountActor by = synapse_actor(req);
    DS_CO_TRY(co_await svc.leavers->deactivate(user, erase.value_or(false), by));
    co_return json::object{{"id_server_unbind_result", "success"}};
  });

  // POST /_synapse/admin/v1/reset_password/{userId} {new_password, logout_devices}
  add_synapse(r, "POST", "/v1/reset_password/{userId}", [&svc](Request& req) -> Awaitable {
    const std::string user = req.param(0);
    DS_CO_TRY(require_local_user(svc, user));
    DS_CO_ASSIGN(std::string pw, req_string(req.body_object(), "new_password"));
    DS_CO_ASSIGN(auto logout, opt_bool(req.body_object(), "logout_devices"));
    DS_CO_ASSIGN(auto account, svc.users->account(user));
    if (!account) co_return Error::not_found("User not found");
    AccountActor by = synapse_actor(req);
    DS_CO_TRY(co_await svc.users->reset_password(user, pw, logout.value_or(true), by));
    co_return empty_reply();
  });

  // GET /_synapse/admin/v1/users/{userId}/joined_rooms
  add_synapse(r, "GET", "/v1/users/{userId}/joined_rooms", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_local_user(svc, req.param(0)));
    DS_CO_ASSIGN(auto rooms, svc.rooms->joined_rooms(req.param(0)));
    json::array list;
    for (auto& id : rooms) list.push_back(json::string(id));
    int64_t total = static_cast<int64_t>(rooms.size());
    co_return json::object{{"joined_rooms", std::move(list)}, {"total", total}};
  });

  // GET /_synapse/admin/v2/users/{userId}/devices
  add_synapse(r, "GET", "/v2/users/{userId}/devices", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_local_user(svc, req.param(0)));
    DS_CO_ASSIGN(auto devices, svc.users->list_devices(req.param(0)));
    json::array list;
    for (auto& d : devices)
      list.push_back(json::object{{"device_id", d.device_id},
                                  {"display_name", d.display_name.empty() ? json::value(nullptr) : json::value(d.display_name)},
                                  {"last_seen_ip", d.last_seen_ip.empty() ? json::value(nullptr) : json::value(d.last_seen_ip)},
                                  {"last_seen_ts", d.last_seen_ts ? json::value(d.last_seen_ts) : json::value(nullptr)},
                                  {"user_id", req.param(0)}});
    int64_t total = static_cast<int64_t>(devices.size());
    co_return json::object{{"devices", std::move(list)}, {"total", total}};
  });

  // DELETE /_synapse/admin/v2/users/{userId}/devices/{deviceId}: the session ends at once.
  add_synapse(r, "DELETE", "/v2/users/{userId}/devices/{deviceId}", [&svc](Request& req) -> Awaitable {
    const std::string user = req.param(0);
    DS_CO_TRY(require_local_user(svc, user));
    std::vector<std::string> devices{req.param(1)};
    DS_CO_TRY(co_await svc.users->delete_devices(user, devices));
    std::string action = "device.delete";
    json::object details{{"user_id", user}, {"device_id", req.param(1)}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    co_return empty_reply();
  });

  // POST /_synapse/admin/v1/users/{userId}/login: refused, with the reason.
  add_synapse(r, "POST", "/v1/users/{userId}/login", [](Request&) -> Awaitable {
    co_return Error::forbidden("Logging in as another user is not offered: every session is the user's own");
  });

  // GET /_synapse/admin/v1/whois/{userId}
  add_synapse(r, "GET", "/v1/whois/{userId}", [&svc](Request& req) -> Awaitable {
    const std::string user = req.param(0);
    DS_CO_TRY(require_local_user(svc, user));
    DS_CO_ASSIGN(auto devices, svc.users->list_devices(user));
    json::object by_device;
    for (auto& d : devices) {
      json::array connections;
      if (d.last_seen_ts)
        connections.push_back(json::object{{"ip", d.last_seen_ip}, {"last_seen", d.last_seen_ts}, {"user_agent", ""}});
      json::object session{{"connections", std::move(connections)}};
      by_device[d.device_id] = json::object{{"sessions", json::array{std::move(session)}}};
    }
    std::string action = "whois";
    json::object details{{"user_id", user}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    co_return json::object{{"user_id", user}, {"devices", std::move(by_device)}};
  });
}

}  // namespace despatch::api
