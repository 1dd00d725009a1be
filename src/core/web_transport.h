// The seam between the announcement services and outgoing plain-web HTTP (ActivityPub
// deliveries and actor fetches): services build and sign requests to absolute URLs, the
// transport (http/web_client.h, injected by main/app.cpp) connects (https, or http where
// allowed), and returns the answer. No HTTP library types cross this line.
#pragma once

#include "core/result.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <string>

namespace despatch {

struct WebRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL
  std::map<std::string, std::string> headers;  // lower-case names; host is filled in by the caller
  std::string body;
};

struct WebResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// The parts of an absolute URL the signing and the transport need.
struct WebUrl {
  std::string scheme, host, target;  // target: path and query, "/" at least
  uint16_t port = 0;
  std::string host_header() const {  // host[:port], the port only when it is not the scheme's
    bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    return default_port ? host : host + ":" + std::to_string(port);
  }
};
// M_INVALID_PARAM for anything but an absolute http(s) URL with a host.
Result<WebUrl> parse_web_url(const std::string& url);

class WebTransport {
 public:
  virtual ~WebTransport() = default;
  // Sends one request. Any HTTP answer is a WebResponse; a URL the policy refuses (plain
  // http to a non-loopback host) fails with M_FORBIDDEN, one that cannot be reached with
  // 502 M_UNKNOWN saying why.
  virtual boost::asio::awaitable<Result<WebResponse>> send(WebRequest req) = 0;
};

}  // namespace despatch
