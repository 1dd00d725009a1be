// The answer that carries a media file itself (client downloads, and the older servers'
// route on the federation listener): the bytes, their type and disposition, and the headers
// that keep a browser from running what it fetched.
#pragma once

#include "http/request.h"
#include "service/media/media_service.h"
#include "service/media/media_types.h"

namespace despatch::api {

inline http::Reply served_reply(MediaService::Served s) {
  http::Reply rep;
  rep.raw = std::move(s.bytes);
  rep.content_type = std::move(s.content_type);
  rep.headers = media::security_headers();
  rep.headers.emplace_back("Content-Disposition", std::move(s.disposition));
  rep.headers.emplace_back("Cache-Control", "private, max-age=86400");
  return rep;
}

}  // namespace despatch::api
