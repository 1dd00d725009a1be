// The Synapse admin API's room, report and registration-token routes: v1/rooms (list,
// details, members, state, messages; delete refused while records must be kept),
// v1/event_reports (the reports service's event reports) and v1/registration_tokens.
#include "api/admin/synapse.h"

#include <algorithm>

namespace despatch::api {

namespace {

const char* kKeptRooms =
    "Rooms are kept while the records archive must keep them (retention periods and legal holds), so "
    "Despatch does not delete, purge or block them. Remove members with kick, or hand the room over with "
    "POST /_despatch/admin/v1/rooms/{roomId}/hand_over";

Result<std::optional<int64_t>> opt_token_int(const json::object& body, const char* key, bool* present) {
  auto* v = body.if_contains(key);
  *present = v != nullptr;
  if (!v || v->is_null()) return std::optional<int64_t>{};
  if (!v->is_int64()) return Error::invalid_param(std::string(key) + " must be an integer or null");
  return std::optional<int64_t>(v->as_int64());
}

// Every event report, oldest first, in Synapse's shape.
Result<json::array> event_reports(const AdminServices& svc) {
  DS_ASSIGN(json::object all, svc.reports->list(true, 0, 100'000));
  json::array events;
  auto field = [](const json::object& o, const char* key) { return o.contains(key) ? o.at(key) : json::value(nullptr); };
  for (auto& rep : all["reports"].as_array()) {
    const json::object& o = rep.as_object();
    auto* kind = o.if_contains("kind");
    if (!kind || !kind->is_string() || kind->as_string() != "event") continue;
    events.push_back(json::object{{"id", o.at("report_id")},           {"received_ts", field(o, "ts")},
                                  {"room_id", field(o, "room_id")},     {"event_id", field(o, "event_id")},
                                  {"user_id", field(o, "reporter")},    {"sender", field(o, "user_id")},
                                  {"reason", field(o, "reason")},       {"score", nullptr}});
  }
  std::reverse(events.begin(), events.end());
  return events;
}

}  // namespace

void add_synapse_room_routes(http::Router& r, const AdminServices& svc) {
  // GET /_synapse/admin/v1/rooms?from=&limit=&search_term=&dir=
  add_synapse(r, "GET", "/v1/rooms", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(int64_t from, paging_param(req, "from", 0, INT64_MAX / 2));
    DS_CO_ASSIGN(int64_t limit, paging_param(req, "limit", 100, 1000));
    std::string term;
    if (auto* t = req.query_param("search_term")) term = *t;
    DS_CO_ASSIGN(auto ids, svc.rooms->all_room_ids());
    std::vector<json::object> rooms;
    for (auto& id : ids) {
      auto d = svc.rooms->admin_room_details(id);
      if (!d.ok()) continue;
      if (!term.empty()) {
        auto* name = d->if_contains("name");
        auto* alias = d->if_contains("canonical_alias");
        bool hit = id.find(term) != std::string::npos ||
                   (name && name->is_string() && std::string(name->as_string()).find(term) != std::string::npos) ||
                   (alias && alias->is_string() && std::string(alias->as_string()).find(term) != std::string::npos);
        if (!hit) continue;
      }
      rooms.push_back(std::move(*d));
    }
    auto* dir = req.query_param("dir");
    if (dir && *dir == "b") std::reverse(rooms.begin(), rooms.end());
    json::array page;
    for (int64_t i = from; i < static_cast<int64_t>(rooms.size()) && static_cast<int64_t>(page.size()) < limit; ++i)
      page.push_back(std::move(rooms[static_cast<size_t>(i)]));
    int64_t total = static_cast<int64_t>(rooms.size());
    json::object out{{"offset", from}, {"total_rooms", total}};
    if (from + static_cast<int64_t>(page.size()) < total) out["next_batch"] = from + static_cast<int64_t>(page.size());
    if (from > 0) out["prev_batch"] = std::max<int64_t>(0, from - limit);
    out["rooms"] = std::move(page);
    co_return out;
  });

  // GET /_synapse/admin/v1/rooms/{roomId}
  add_synapse(r, "GET", "/v1/rooms/{roomId}", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    DS_CO_ASSIGN(json::object d, svc.rooms->admin_room_details(req.param(0)));
    co_return d;
  });

  // GET /_synapse/admin/v1/rooms/{roomId}/members
  add_synapse(r, "GET", "/v1/rooms/{roomId}/members", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    DS_CO_ASSIGN(auto members, svc.rooms->admin_members(req.param(0)));
    json::array list;
    for (auto& m : members) list.push_back(json::string(m));
    int64_t total = static_cast<int64_t>(members.size());
    std::string action = "room.members";
    json::object details{{"room_id", req.param(0)}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    co_return json::object{{"members", std::move(list)}, {"total", total}};
  });

  // GET /_synapse/admin/v1/rooms/{roomId}/state
  add_synapse(r, "GET", "/v1/rooms/{roomId}/state", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    DS_CO_ASSIGN(json::array state, svc.rooms->admin_state(req.param(0)));
    std::string action = "room.state";
    json::object details{{"room_id", req.param(0)}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    co_return json::object{{"state", std::move(state)}};
  });

  // GET /_synapse/admin/v1/rooms/{roomId}/messages?from=&to=&dir=&limit=
  add_synapse(r, "GET", "/v1/rooms/{roomId}/messages", [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    PageRequest page;
    auto* dir = req.query_param("dir");
    if (dir && *dir != "b" && *dir != "f") co_return Error::invalid_param("dir must be b or f");
    page.backwards = !dir || *dir == "b";
    for (const char* name : {"from", "to"}) {
      auto* v = req.query_param(name);
      if (!v) continue;
      if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
        co_return Error::invalid_param(std::string(name) + " must be a token from an earlier answer");
      (std::string(name) == "from" ? page.from : page.to) = std::stoll(*v);
    }
    DS_CO_ASSIGN(int64_t limit, paging_param(req, "limit", 10, 1000));
    page.limit = static_cast<int>(std::max<int64_t>(limit, 1));
    DS_CO_ASSIGN(json::object out, svc.rooms->admin_messages(req.param(0), page));
    std::string action = "room.messages";
    json::object details{{"room_id", req.param(0)}};
    DS_CO_TRY(co_await synapse_audit(svc, req.who().user_id, action, std::move(details)));
    co_return out;
  });

  // DELETE /_synapse/admin/v1/rooms/{roomId} and /v2/rooms/{roomId}: refused, with the reason.
  auto refuse_delete = [](Request& req) -> Awaitable {
    DS_CO_TRY(require_room_id(req.param(0)));
    co_return Error::forbidden(kKeptRooms);
  };
  add_synapse(r, "DELETE", "/v1/rooms/{roomId}", refuse_delete);
  add_synapse(r, "DELETE", "/v2/rooms/{roomId}", refuse_delete);

  // GET /_synapse/admin/v1/event_reports?from=&limit=  (the reports service's event reports)
  add_synapse(r, "GET", "/v1/event_reports", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(int64_t from, paging_param(req, "from", 0, INT64_MAX / 2));
    DS_CO_ASSIGN(int64_t limit, paging_param(req, "limit", 100, 1000));
    DS_CO_ASSIGN(json::array events, event_reports(svc));
    int64_t total = static_cast<int64_t>(events.size());
    json::array page;
    for (int64_t i = from; i < total && static_cast<int64_t>(page.size()) < limit; ++i)
      page.push_back(events[static_cast<size_t>(i)]);
    json::object out{{"total", total}};
    if (from + static_cast<int64_t>(page.size()) < total) out["next_token"] = from + static_cast<int64_t>(page.size());
    out["event_reports"] = std::move(page);
    co_return out;
  });
  // GET /_synapse/admin/v1/event_reports/{reportId}
  add_synapse(r, "GET", "/v1/event_reports/{reportId}", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(json::array events, event_reports(svc));
    for (auto& e : events)
      if (json::serialize(e.as_object().at("id")) == req.param(0)) co_return e.as_object();
    co_return Error::not_found("No such event report");
  });

  // GET /_synapse/admin/v1/registration_tokens?valid=true|false
  add_synapse(r, "GET", "/v1/registration_tokens", [&svc](Request& req) -> Awaitable {
    std::optional<bool> valid;
    if (auto* v = req.query_param("valid")) {
      if (*v != "true" && *v != "false") co_return Error::invalid_param("valid must be true or false");
      valid = *v == "true";
    }
    DS_CO_ASSIGN(json::array tokens, svc.registration_tokens->list(valid));
    co_return json::object{{"registration_tokens", std::move(tokens)}};
  });
  // POST /_synapse/admin/v1/registration_tokens/new {token, uses_allowed, expiry_time, length}
  add_synapse(r, "POST", "/v1/registration_tokens/new", [&svc](Request& req) -> Awaitable {
    auto& body = req.body_object();
    DS_CO_ASSIGN(auto token, opt_string(body, "token"));
    DS_CO_ASSIGN(auto length, opt_int(body, "length"));
    bool present = false;
    DS_CO_ASSIGN(auto uses, opt_token_int(body, "uses_allowed", &present));
    DS_CO_ASSIGN(auto expiry, opt_token_int(body, "expiry_time", &present));
    std::string chosen = token.value_or("");
    DS_CO_ASSIGN(json::object out, co_await svc.registration_tokens->create(chosen, length.value_or(16), uses, expiry,
                                                                         req.who().user_id));
    co_return out;
  });
  // GET /_synapse/admin/v1/registration_tokens/{token}
  add_synapse(r, "GET", "/v1/registration_tokens/{token}", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(json::object out, svc.registration_tokens->get(req.param(0)));
    co_return out;
  });
  // PUT /_synapse/admin/v1/registration_tokens/{token} {uses_allowed, expiry_time}
  add_synapse(r, "PUT", "/v1/registration_tokens/{token}", [&svc](Request& req) -> Awaitable {
    auto& body = req.body_object();
    bool set_uses = false, set_expiry = false;
    DS_CO_ASSIGN(auto uses, opt_token_int(body, "uses_allowed", &set_uses));
    DS_CO_ASSIGN(auto expiry, opt_token_int(body, "expiry_time", &set_expiry));
    std::string token = req.param(0);
    DS_CO_ASSIGN(json::object out, co_await svc.registration_tokens->update(token, uses, set_uses, expiry, set_expiry,
                                                                         req.who().user_id));
    co_return out;
  });
  // DELETE /_synapse/admin/v1/registration_tokens/{token}
  add_synapse(r, "DELETE", "/v1/registration_tokens/{token}", [&svc](Request& req) -> Awaitable {
    std::string token = req.param(0);
    DS_CO_TRY(co_await svc.registration_tokens->remove(token, req.who().user_id));
    co_return empty_reply();
  });
}

}  // namespace despatch::api
