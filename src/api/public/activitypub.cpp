// ActivityPub, WebFinger (RFC 7033) and NodeInfo for announcement channels.
#include "api/client/util.h"
#include "api/public/routes.h"

namespace despatch::api {

namespace {

// A public document with the headers every fediverse fetcher expects.
Reply document(PublicDocument d) {
  Reply rep;
  rep.content_type = std::move(d.content_type);
  rep.raw = std::move(d.body);
  rep.headers.emplace_back("Cache-Control", "public, max-age=60");
  rep.headers.emplace_back("Vary", "Accept");
  return rep;
}

void get(http::Router& r, const std::string& path, http::Handler h) {
  r.add({"GET", path, Auth::kNone, RateClass::kNormal, http::Body::kJson, std::move(h)});
}

// Inboxes take the raw body: the Digest and the signature cover its exact bytes.
void post_raw(http::Router& r, const std::string& path, http::Handler h) {
  r.add({"POST", path, Auth::kNone, RateClass::kNormal, http::Body::kRaw, std::move(h), 256 << 10});
}

Result<int64_t> before_param(const Request& req) {
  DS_ASSIGN(auto before, query_int(req, "before", 1, INT64_MAX));
  return before.value_or(0);
}

Awaitable inbox(Announcements& a, Request& req, std::string handle) {
  InboxRequest in{std::move(handle), req.method, req.target, req.headers, req.body};
  DS_CO_ASSIGN(int status, co_await a.receive(std::move(in)));
  co_return Reply(status, json::object{});
}

}  // namespace

void add_activitypub_routes(http::Router& r, Announcements& a) {
  // GET /.well-known/webfinger?resource=acct:HANDLE@SERVER_NAME
  get(r, "/.well-known/webfinger", [&a](Request& req) -> Awaitable {
    auto* resource = req.query_param("resource");
    if (!resource || resource->empty()) co_return Error::missing_param("resource is required");
    DS_CO_ASSIGN(PublicDocument d, a.webfinger(*resource));
    co_return document(std::move(d));
  });
  // GET /.well-known/nodeinfo
  get(r, "/.well-known/nodeinfo", [&a](Request& req) -> Awaitable { co_return document(a.nodeinfo_links()); });
  // GET /nodeinfo/{version}: 2.0 and 2.1
  get(r, "/nodeinfo/{version}", [&a](Request& req) -> Awaitable {
    DS_CO_ASSIGN(PublicDocument d, a.nodeinfo(req.param(0)));
    co_return document(std::move(d));
  });
  // GET /ap/actor: the instance actor, which signs this server's own fetches
  get(r, "/ap/actor", [&a](Request& req) -> Awaitable { co_return document(a.instance_actor()); });
  // POST /ap/inbox: the shared inbox
  post_raw(r, "/ap/inbox", [&a](Request& req) -> Awaitable { co_return co_await inbox(a, req, ""); });
  // GET /ap/users/{handle}
  get(r, "/ap/users/{handle}", [&a](Request& req) -> Awaitable {
    DS_CO_ASSIGN(PublicDocument d, a.actor(req.param(0)));
    co_return document(std::move(d));
  });
  // POST /ap/users/{handle}/inbox
  post_raw(r, "/ap/users/{handle}/inbox", [&a](Request& req) -> Awaitable {
    co_return co_await inbox(a, req, req.param(0));
  });
  // GET /ap/users/{handle}/outbox[?page=true[&before=ID]]
  get(r, "/ap/users/{handle}/outbox", [&a](Request& req) -> Awaitable {
    auto* page = req.query_param("page");
    DS_CO_ASSIGN(int64_t before, before_param(req));
    DS_CO_ASSIGN(PublicDocument d, a.outbox(req.param(0), page && *page == "true", before));
    co_return document(std::move(d));
  });
  // GET /ap/users/{handle}/followers: the count only
  get(r, "/ap/users/{handle}/followers", [&a](Request& req) -> Awaitable {
    DS_CO_ASSIGN(PublicDocument d, a.followers(req.param(0)));
    co_return document(std::move(d));
  });
  // GET /ap/users/{handle}/posts/{id}
  get(r, "/ap/users/{handle}/posts/{id}", [&a](Request& req) -> Awaitable {
    const std::string& id = req.param(1);
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
      co_return Error::not_found("no such post");
    DS_CO_ASSIGN(PublicDocument d, a.note(req.param(0), std::stoll(id)));
    co_return document(std::move(d));
  });
}

}  // namespace despatch::api
