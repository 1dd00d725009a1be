// The Atom feed, the HTML page and the pictures of announcement channels.
#include "api/client/util.h"
#include "api/media_reply.h"
#include "api/public/routes.h"

namespace despatch::api {

namespace {

void get(http::Router& r, const std::string& path, http::Handler h) {
  r.add({"GET", path, Auth::kNone, RateClass::kNormal, http::Body::kJson, std::move(h)});
}

Reply page(PublicDocument d) {
  Reply rep;
  rep.content_type = std::move(d.content_type);
  rep.raw = std::move(d.body);
  rep.headers.emplace_back("Cache-Control", "public, max-age=60");
  // The page is static text and pictures: nothing on it may run or load from elsewhere.
  rep.headers.emplace_back("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'");
  rep.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return rep;
}

}  // namespace

void add_feed_routes(http::Router& r, Announcements& a) {
  // GET /announce/{handle}[?before=ID]
  get(r, "/announce/{handle}", [&a](Request& req) -> Awaitable {
    DS_CO_ASSIGN(auto before, query_int(req, "before", 1, INT64_MAX));
    DS_CO_ASSIGN(PublicDocument d, a.html(req.param(0), before.value_or(0)));
    co_return page(std::move(d));
  });
  // GET /announce/{handle}/feed.atom
  get(r, "/announce/{handle}/feed.atom", [&a](Request& req) -> Awaitable {
    DS_CO_ASSIGN(PublicDocument d, a.atom(req.param(0)));
    co_return page(std::move(d));
  });
  // GET /announce/{handle}/media/{id}: the picture of post id, while it is published
  get(r, "/announce/{handle}/media/{id}", [&a](Request& req) -> Awaitable {
    const std::string& id = req.param(1);
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
      co_return Error::not_found("no such picture");
    DS_CO_ASSIGN(MediaService::Served s, co_await a.picture(req.param(0), std::stoll(id)));
    Reply rep = served_reply(std::move(s));
    for (auto& [k, v] : rep.headers)
      if (k == "Cache-Control") v = "public, max-age=3600";
    co_return rep;
  });
}

}  // namespace despatch::api
