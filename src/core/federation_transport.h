// The seam between the federation services and outgoing HTTPS: services build and sign
// requests, the transport (http/federation_client.h, injected by main/app.cpp) finds the
// destination (server discovery), connects over TLS with the certificate checked, and
// returns the answer. No HTTP library types cross this line.
#pragma once

#include "core/result.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace despatch {

struct FederationRequest {
  std::string destination;  // the server name, before any delegation
  std::string method;
  std::string target;       // the path from /_matrix, with its query string
  std::optional<json::value> body;
  std::string authorization;  // the X-Matrix header value; empty: sent unsigned (key fetches)
  size_t max_response_bytes = 0;     // a larger answer fails the request; 0: the transport's limit
  std::chrono::milliseconds timeout{0};  // the whole exchange; 0: the transport's own
};

struct FederationResponse {
  int status = 0;
  json::value body;  // the parsed JSON answer; null when the body was not JSON
  std::string content_type;  // the answer's Content-Type header
  std::string raw;           // the body as received when it was not JSON (media)

  // The answer's Matrix errcode, "" when it has none.
  std::string errcode() const {
    auto* e = body.is_object() ? json_string_at(body.as_object(), "errcode") : nullptr;
    return e ? std::string(*e) : std::string();
  }
  // What the other server said went wrong: its `error`, or the status when it said nothing.
  std::string error_text() const {
    auto* e = body.is_object() ? json_string_at(body.as_object(), "error") : nullptr;
    return e ? std::string(*e) : "status " + std::to_string(status);
  }
};

class FederationTransport {
 public:
  virtual ~FederationTransport() = default;
  // Sends one request. Any HTTP answer, whatever its status, is a FederationResponse. A
  // destination not on the allow-list fails with 403 M_FORBIDDEN before anything is looked
  // up or connected; one that cannot be found or reached (DNS, connection, TLS handshake or
  // certificate, timeout, malformed answer) with 502 M_UNKNOWN saying why.
  virtual boost::asio::awaitable<Result<FederationResponse>> send(FederationRequest req) = 0;
};

}  // namespace despatch
