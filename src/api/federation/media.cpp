// Server-server spec "Content Repository": this server's own media for other servers, as
// multipart/mixed (a JSON part, then the file). Only local media: a server asks each origin
// for its own files, so no remote copy is ever passed on.
#include "api/client/util.h"
#include "api/federation/routes.h"
#include "api/media_reply.h"

#include "service/media/media_service.h"
#include "service/media/media_types.h"
#include "service/media/multipart.h"

namespace despatch::api {

namespace {

Reply multipart_reply(MediaService::Served s) {
  media::MultipartBody mp = media::make_multipart(s.content_type, s.disposition, s.bytes);
  Reply rep;
  rep.raw = std::move(mp.body);
  rep.content_type = std::move(mp.content_type);
  rep.headers = media::security_headers();
  return rep;
}

Result<int64_t> timeout_of(const Request& r) {
  DS_ASSIGN(auto t, query_int(r, "timeout_ms", 0, INT64_MAX / 2));
  return t.value_or(20'000);
}

// A thumbnail's size and method from the query, as both thumbnail routes take them.
struct ThumbnailQuery {
  int width = 0, height = 0;
  std::string method;
  int64_t timeout = 0;
};

Result<ThumbnailQuery> thumbnail_query(const Request& req) {
  DS_ASSIGN(auto width, query_int(req, "width", 1, 16384));
  DS_ASSIGN(auto height, query_int(req, "height", 1, 16384));
  if (!width || !height) return Error::missing_param("width and height are required");
  const std::string* given = req.query_param("method");
  DS_ASSIGN(int64_t timeout, timeout_of(req));
  return ThumbnailQuery{static_cast<int>(*width), static_cast<int>(*height), given ? *given : "scale", timeout};
}

}  // namespace

void add_federation_media_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/media/download/{mediaId}
  r.add({"GET", "/_matrix/federation/v1/media/download/{mediaId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(int64_t timeout, timeout_of(req));
           // Named, not temporaries: g++ 12 mishandles temporaries bound to a coroutine's
           // reference parameters inside a co_await expression.
           const std::string no_rename;
           DS_CO_ASSIGN(auto served,
                        co_await svc.media->download(svc.config.server_name, req.param(0), no_rename, timeout, false));
           co_return multipart_reply(std::move(served));
         }});
  // GET /_matrix/federation/v1/media/thumbnail/{mediaId}
  r.add({"GET", "/_matrix/federation/v1/media/thumbnail/{mediaId}", Auth::kFederation, RateClass::kNone,
         http::Body::kJson, [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(ThumbnailQuery t, thumbnail_query(req));
           DS_CO_ASSIGN(auto served, co_await svc.media->thumbnail(svc.config.server_name, req.param(0), t.width,
                                                                   t.height, t.method, t.timeout, false));
           co_return multipart_reply(std::move(served));
         }});
  // Servers that predate authenticated media ask for a file with the client's old routes
  // (GET /_matrix/media/v3/download/{serverName}/{mediaId}, and r0), signed like any
  // federation request: this server's own media only, the file itself as the answer.
  auto old_download = [&svc](Request& req) -> Awaitable {
    if (req.param(0) != svc.config.server_name) co_return Error::not_found("Only this server's media is served here");
    DS_CO_ASSIGN(int64_t timeout, timeout_of(req));
    const std::string name = req.params.size() > 2 ? req.param(2) : "";
    DS_CO_ASSIGN(auto served, co_await svc.media->download(svc.config.server_name, req.param(1), name, timeout, false));
    co_return served_reply(std::move(served));
  };
  auto old_thumbnail = [&svc](Request& req) -> Awaitable {
    if (req.param(0) != svc.config.server_name) co_return Error::not_found("Only this server's media is served here");
    DS_CO_ASSIGN(ThumbnailQuery t, thumbnail_query(req));
    DS_CO_ASSIGN(auto served, co_await svc.media->thumbnail(svc.config.server_name, req.param(1), t.width, t.height,
                                                            t.method, t.timeout, false));
    co_return served_reply(std::move(served));
  };
  for (std::string prefix : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
    r.add({"GET", prefix + "/download/{serverName}/{mediaId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
           old_download});
    r.add({"GET", prefix + "/download/{serverName}/{mediaId}/{fileName}", Auth::kFederation, RateClass::kNone,
           http::Body::kJson, old_download});
    r.add({"GET", prefix + "/thumbnail/{serverName}/{mediaId}", Auth::kFederation, RateClass::kNone,
           http::Body::kJson, old_thumbnail});
  }
}

}  // namespace despatch::api
