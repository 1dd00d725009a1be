// Outgoing federation requests over HTTPS: discovery (http/discovery.h), then one TLS
// connection per request with the peer's certificate checked against the system CAs or
// ca_file and against the name discovery says it must carry. Implements the core seam
// FederationTransport, which the federation services call.
#pragma once

#include "core/federation_transport.h"
#include "core/server_name.h"
#include "http/discovery.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace despatch::http {

struct FederationClientOptions {
  std::string ca_file;     // empty: the system CAs
  bool verify_tls = true;  // false: any certificate is accepted (logged by the caller)
  ServerAllowList allow;   // destinations not on it are never contacted
  std::chrono::seconds timeout{30};     // the whole exchange, connection to last byte
  size_t max_response_bytes = 4 << 20;  // a larger answer fails the request
};

class FederationClient final : public FederationTransport {
 public:
  // Fails when ca_file cannot be read.
  static Result<std::unique_ptr<FederationClient>> create(FederationClientOptions opts);
  ~FederationClient() override;

  boost::asio::awaitable<Result<FederationResponse>> send(FederationRequest req) override;

 private:
  struct Impl;
  explicit FederationClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace despatch::http
