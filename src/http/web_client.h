// Outgoing plain-web HTTP for ActivityPub (core/web_transport.h): https with the peer's
// certificate checked against the system CAs or ca_file and its host name, or plain http
// where the options allow it (loopback always, anywhere only with allow_http). One
// connection per request, closed after the answer.
#pragma once

#include "core/web_transport.h"

#include <chrono>
#include <memory>
#include <string>

namespace despatch::http {

struct WebClientOptions {
  std::string ca_file;      // empty: the system CAs
  bool verify_tls = true;
  bool allow_http = false;  // plain http to any host (loopback is always allowed)
  std::chrono::seconds timeout{20};
  size_t max_response_bytes = 1 << 20;
};

class WebClient final : public WebTransport {
 public:
  static Result<std::unique_ptr<WebClient>> create(WebClientOptions opts);
  ~WebClient() override;
  boost::asio::awaitable<Result<WebResponse>> send(WebRequest req) override;

 private:
  struct Impl;
  explicit WebClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace despatch::http
