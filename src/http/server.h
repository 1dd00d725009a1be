// The HTTP/1.1 listener: reads requests with Beast, applies limits, authenticates, routes,
// and writes replies. The only file set that includes Beast. The same pipeline serves plain
// HTTP (the client listener) and TLS (the federation listener, when a certificate is set).
#pragma once

#include "http/metrics.h"
#include "http/rate_limit.h"
#include "http/request.h"
#include "http/router.h"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

namespace despatch::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8008;
  size_t max_body_bytes = 1 << 20;
  bool rate_limit = true;
  double rate_per_second = 10, rate_burst = 50;
  double login_per_second = 1, login_burst = 10;
  // Both set: the listener speaks TLS only (PEM certificate chain and private key).
  std::string tls_cert_file, tls_key_file;
  // Set: every request answered is counted here by endpoint class (the metrics listener's).
  RequestMetrics* metrics = nullptr;
};

// Resolves an access token to its caller, or returns M_UNKNOWN_TOKEN.
using Authenticator = std::function<Result<Caller>(const std::string& token)>;
// Checks a federation request's X-Matrix header (routes with Auth::kFederation) and returns
// the origin server it proves, or the error to answer with (401 or 403).
using FederationAuthenticator = std::function<boost::asio::awaitable<Result<std::string>>(const Request&)>;

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions opts, Router router, Authenticator auth,
         FederationAuthenticator federation_auth = {});
  ~Server();

  // Binds and starts accepting (loading the TLS certificate first, if any). Returns the
  // bound port (useful with port 0).
  Result<uint16_t> start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace despatch::http
