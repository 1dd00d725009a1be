// The content repository: uploads (/_matrix/media/v3/upload, /_matrix/media/v1/create),
// authenticated downloads and thumbnails (/_matrix/client/v1/media, spec 1.11) and the
// deprecated unauthenticated /_matrix/media/v3 download routes, which serve only media
// uploaded while media.legacy_unauthenticated was on.
#include "api/client/routes.h"
#include "api/client/util.h"
#include "api/media_reply.h"

#include "service/media/media_service.h"
#include "service/media/media_types.h"

namespace despatch::api {
namespace {

std::string header(const Request& r, const char* name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

std::string query_string(const Request& r, const char* name) {
  auto* v = r.query_param(name);
  return v ? *v : "";
}

Result<int64_t> timeout_of(const Request& r) {
  DS_ASSIGN(auto t, query_int(r, "timeout_ms", 0, INT64_MAX / 2));
  return t.value_or(20'000);
}

void add_raw(http::Router& r, const char* method, std::string path, Auth auth, RateClass rate,
             size_t max_body, http::Handler h) {
  http::Route route{method, std::move(path), auth, rate, http::Body::kRaw, std::move(h)};
  route.max_body = max_body;
  r.add(std::move(route));
}

}  // namespace

void add_media_routes(http::Router& r, const Services& svc) {
  MediaService& media = *svc.media;
  size_t max_upload = media.max_upload_bytes();

  // POST /_matrix/media/v3/upload
  http::Handler upload = [&media](Request& req) -> Awaitable {
    DS_CO_ASSIGN(std::string uri, co_await media.upload(req.who().user_id, req.body, header(req, "content-type"),
                                                        query_string(req, "filename")));
    co_return json::object{{"content_uri", uri}};
  };
  add_raw(r, "POST", "/_matrix/media/v3/upload", Auth::kRequired, RateClass::kNormal, max_upload, upload);
  add_raw(r, "POST", "/_matrix/media/r0/upload", Auth::kRequired, RateClass::kNormal, max_upload, upload);

  // POST /_matrix/media/v1/create
  add_raw(r, "POST", "/_matrix/media/v1/create", Auth::kRequired, RateClass::kNormal, 0,
          [&media](Request& req) -> Awaitable {
            DS_CO_ASSIGN(json::object out, co_await media.create(req.who().user_id));
            co_return out;
          });

  // PUT /_matrix/media/v3/upload/{serverName}/{mediaId}
  add_raw(r, "PUT", "/_matrix/media/v3/upload/{serverName}/{mediaId}", Auth::kRequired, RateClass::kNormal,
          max_upload, [&media](Request& req) -> Awaitable {
            DS_CO_TRY(co_await media.upload_to(req.who().user_id, req.param(0), req.param(1), req.body,
                                               header(req, "content-type"), query_string(req, "filename")));
            co_return empty_reply();
          });

  // GET /_matrix/client/v1/media/config (and the deprecated /_matrix/media/v3/config)
  http::Handler config = [&media](Request&) -> Awaitable {
    co_return json::object{{"m.upload.size", static_cast<int64_t>(media.max_upload_bytes())}};
  };
  for (const char* p : {"/_matrix/client/v1/media/config", "/_matrix/media/v3/config", "/_matrix/media/r0/config"})
    add_raw(r, "GET", p, Auth::kRequired, RateClass::kNone, 0, config);

  // GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
  auto download = [&media](bool legacy) -> http::Handler {
    return [&media, legacy](Request& req) -> Awaitable {
      DS_CO_ASSIGN(int64_t timeout, timeout_of(req));
      std::string name = req.params.size() > 2 ? req.param(2) : "";
      std::string who = req.caller ? req.who().user_id : "";
      DS_CO_ASSIGN(auto served, co_await media.download(req.param(0), req.param(1), name, timeout, legacy, who));
      co_return served_reply(std::move(served));
    };
  };
  // GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
  auto thumbnail = [&media](bool legacy) -> http::Handler {
    return [&media, legacy](Request& req) -> Awaitable {
      DS_CO_ASSIGN(auto width, query_int(req, "width", 1, 16384));
      DS_CO_ASSIGN(auto height, query_int(req, "height", 1, 16384));
      if (!width || !height) co_return Error::missing_param("width and height are required");
      std::string method = query_string(req, "method");
      if (method.empty()) method = "scale";
      DS_CO_ASSIGN(int64_t timeout, timeout_of(req));
      DS_CO_ASSIGN(auto served, co_await media.thumbnail(req.param(0), req.param(1), static_cast<int>(*width),
                                                         static_cast<int>(*height), method, timeout, legacy));
      co_return served_reply(std::move(served));
    };
  };
  const std::string v1 = "/_matrix/client/v1/media";
  add_raw(r, "GET", v1 + "/download/{serverName}/{mediaId}", Auth::kRequired, RateClass::kNone, 0, download(false));
  add_raw(r, "GET", v1 + "/download/{serverName}/{mediaId}/{fileName}", Auth::kRequired, RateClass::kNone, 0,
          download(false));
  add_raw(r, "GET", v1 + "/thumbnail/{serverName}/{mediaId}", Auth::kRequired, RateClass::kNone, 0,
          thumbnail(false));
  for (std::string legacy : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
    // GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (deprecated)
    add_raw(r, "GET", legacy + "/download/{serverName}/{mediaId}", Auth::kNone, RateClass::kNone, 0,
            download(true));
    add_raw(r, "GET", legacy + "/download/{serverName}/{mediaId}/{fileName}", Auth::kNone, RateClass::kNone, 0,
            download(true));
    // GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (deprecated)
    add_raw(r, "GET", legacy + "/thumbnail/{serverName}/{mediaId}", Auth::kNone, RateClass::kNone, 0,
            thumbnail(true));
  }
}

}  // namespace despatch::api
