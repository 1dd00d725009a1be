// SCIM 2.0 (RFC 7644) at /scim/v2: discovery, Users and Groups. Thin handlers: the bearer
// token checked, the body parsed, the service called, the answer (or the error, in SCIM's
// error format of §3.12) sent as application/scim+json.
#include "api/scim/routes.h"

#include "core/canonical_json.h"
#include "service/scim/scim_filter.h"

#include <boost/asio/awaitable.hpp>

namespace despatch::api {

namespace {

namespace asio = boost::asio;
using http::Auth;
using http::Reply;
using http::Request;
using Awaitable = asio::awaitable<Result<Reply>>;

const std::string kBase = "/scim/v2";

Reply scim_json(int status, const json::value& body) {
  Reply r;
  r.status = status;
  r.raw = json::serialize(body);
  r.content_type = "application/scim+json";
  return r;
}

Reply scim_failure(const Error& e) {
  json::object o{{"schemas", json::array{kScimErrorSchema}}, {"status", std::to_string(e.status)},
                 {"detail", e.status >= 500 ? std::string("Internal error") : e.message}};
  if (auto* t = e.extra.if_contains("scimType")) o["scimType"] = *t;
  return scim_json(e.status, o);
}

Reply scim_answer(Result<json::object> r, int status = 200) {
  if (!r.ok()) return scim_failure(r.error());
  return scim_json(status, *r);
}

Result<std::string> caller(ScimService& scim, const Request& req) {
  auto it = req.headers.find("authorization");
  std::string token;
  if (it != req.headers.end() && it->second.size() > 7 &&
      (it->second.rfind("Bearer ", 0) == 0 || it->second.rfind("bearer ", 0) == 0))
    token = it->second.substr(7);
  DS_ASSIGN(std::string name, scim.authenticate(token));
  return "scim:" + name;
}

Result<json::object> body_of(const Request& req) {
  auto v = parse_strict_json(req.body);
  if (!v.ok() || !v->is_object()) return scim_error(400, "invalidSyntax", "The body must be a JSON object");
  return v->as_object();
}

Result<ScimPage> page_of(const Request& req) {
  ScimPage p;
  if (auto* f = req.query_param("filter")) p.filter = *f;
  auto num = [](const std::string& s, int64_t* out) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("-0123456789") != std::string::npos) return false;
    *out = std::stoll(s);
    return true;
  };
  if (auto* s = req.query_param("startIndex"); s && !num(*s, &p.start_index))
    return scim_error(400, "invalidValue", "startIndex must be an integer");
  if (auto* c = req.query_param("count"); c && !num(*c, &p.count))
    return scim_error(400, "invalidValue", "count must be an integer");
  return p;
}

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, kBase + path, Auth::kNone, http::RateClass::kNone, http::Body::kRaw, std::move(h)});
}

// The resource routes of one type, bound to the service's calls for it.
template <class Create, class Get, class List, class Replace, class Patch, class Delete>
void add_resource(http::Router& r, ScimService& scim, const std::string& path, Create create, Get get, List list,
                  Replace replace, Patch patch, Delete del) {
  // GET /scim/v2/{Users|Groups}?filter=&startIndex=&count=
  add(r, "GET", path, [&scim, list](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    auto page = page_of(req);
    if (!page.ok()) co_return scim_failure(page.error());
    co_return scim_answer((scim.*list)(*page));
  });
  // POST /scim/v2/{Users|Groups}
  add(r, "POST", path, [&scim, create](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    auto body = body_of(req);
    if (!body.ok()) co_return scim_failure(body.error());
    auto out = co_await (scim.*create)(*body, *who);
    // RFC 7644 §3.3: a created resource's URI in Location, as in its meta.location.
    std::string where;
    if (out.ok())
      if (auto* meta = out->if_contains("meta"); meta && meta->is_object())
        if (auto* loc = meta->as_object().if_contains("location"); loc && loc->is_string()) where = loc->as_string();
    Reply reply = scim_answer(std::move(out), 201);
    if (!where.empty()) reply.headers.emplace_back("Location", where);
    co_return reply;
  });
  // GET /scim/v2/{Users|Groups}/{id}
  add(r, "GET", path + "/{id}", [&scim, get](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    co_return scim_answer((scim.*get)(req.param(0)));
  });
  // PUT /scim/v2/{Users|Groups}/{id}
  add(r, "PUT", path + "/{id}", [&scim, replace](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    auto body = body_of(req);
    if (!body.ok()) co_return scim_failure(body.error());
    std::string id = req.param(0);
    auto out = co_await (scim.*replace)(id, *body, *who);
    co_return scim_answer(std::move(out));
  });
  // PATCH /scim/v2/{Users|Groups}/{id}
  add(r, "PATCH", path + "/{id}", [&scim, patch](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    auto body = body_of(req);
    if (!body.ok()) co_return scim_failure(body.error());
    std::string id = req.param(0);
    auto out = co_await (scim.*patch)(id, *body, *who);
    co_return scim_answer(std::move(out));
  });
  // DELETE /scim/v2/{Users|Groups}/{id}
  add(r, "DELETE", path + "/{id}", [&scim, del](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    std::string id = req.param(0);
    auto st = co_await (scim.*del)(id, *who);
    if (!st.ok()) co_return scim_failure(st.error());
    Reply empty;
    empty.status = 204;
    empty.raw = "";
    empty.content_type = "application/scim+json";
    co_return empty;
  });
}

// Discovery documents: a list, or one of its resources by id.
Reply discovery(const json::object& list, const std::string* id) {
  if (!id) return scim_json(200, list);
  for (auto& res : list.at("Resources").as_array())
    if (res.as_object().at("id").as_string() == *id) return scim_json(200, res);
  return scim_failure(scim_error(404, "", "No such resource"));
}

}  // namespace

void add_scim_routes(http::Router& r, ScimService& scim) {
  // GET /scim/v2/ServiceProviderConfig
  add(r, "GET", "/ServiceProviderConfig", [&scim](Request& req) -> Awaitable {
    auto who = caller(scim, req);
    if (!who.ok()) co_return scim_failure(who.error());
    co_return scim_json(200, scim.service_provider_config());
  });
  // GET /scim/v2/ResourceTypes[/{id}] and /scim/v2/Schemas[/{id}]
  for (bool types : {true, false}) {
    std::string path = types ? "/ResourceTypes" : "/Schemas";
    auto doc = [&scim, types] { return types ? scim.resource_types() : scim.schemas(); };
    add(r, "GET", path, [&scim, doc](Request& req) -> Awaitable {
      auto who = caller(scim, req);
      if (!who.ok()) co_return scim_failure(who.error());
      co_return discovery(doc(), nullptr);
    });
    add(r, "GET", path + "/{id}", [&scim, doc](Request& req) -> Awaitable {
      auto who = caller(scim, req);
      if (!who.ok()) co_return scim_failure(who.error());
      co_return discovery(doc(), &req.param(0));
    });
  }
  add_resource(r, scim, "/Users", &ScimService::create_user, &ScimService::get_user, &ScimService::list_users,
               &ScimService::replace_user, &ScimService::patch_user, &ScimService::delete_user);
  add_resource(r, scim, "/Groups", &ScimService::create_group, &ScimService::get_group, &ScimService::list_groups,
               &ScimService::replace_group, &ScimService::patch_group, &ScimService::delete_group);
}

}  // namespace despatch::api
