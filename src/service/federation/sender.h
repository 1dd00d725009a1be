// Outgoing federation requests: the allow-list (a server not on it is never contacted), the
// X-Matrix signature, and the typed queries built on them.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "core/federation_transport.h"
#include "core/server_name.h"
#include "service/federation/metrics.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace despatch {

class FederationSender {
 public:
  // transport may be null (federation off): every request is then refused.
  FederationSender(const Config& config, const SigningKey& key, FederationTransport* transport,
                   FederationMetrics& metrics);

  bool allows(const std::string& server_name) const { return allow_.allows(server_name); }

  // Sends one request to destination, signed with X-Matrix unless sign is false (key
  // fetches). 403 M_FORBIDDEN, counted, for a destination not on the allow-list or when
  // federation is off; 502 when it cannot be reached.
  boost::asio::awaitable<Result<FederationResponse>> send(const std::string& destination, const std::string& method,
                                                          const std::string& target,
                                                          std::optional<json::value> body, bool sign = true);

  // The same for a request built by the caller (its size limit and timeout kept).
  boost::asio::awaitable<Result<FederationResponse>> send(FederationRequest req, bool sign = true);

  // A file of another server (server-server "Content Repository"): GET /media/download,
  // falling back to the deprecated /_matrix/media/v3/download (allow_remote=false) when the
  // server answers 404 M_UNRECOGNIZED, as the spec requires. The answer is passed on as it
  // came; `multipart` says which route gave it. At most max_bytes are read, 502 M_TOO_LARGE
  // past them; timeout_ms is the remote server's wait for a pending upload, plus the time to
  // transfer.
  struct MediaAnswer {
    FederationResponse response;
    bool multipart = true;
  };
  boost::asio::awaitable<Result<MediaAnswer>> download_media(const std::string& server_name,
                                                             const std::string& media_id, int64_t timeout_ms,
                                                             size_t max_bytes);

  // The room ID and resident servers of an alias of another server
  // (GET /_matrix/federation/v1/query/directory): {room_id, servers}. 404 when unknown.
  boost::asio::awaitable<Result<json::object>> query_directory(const std::string& alias);
  // Another server's public room directory (POST /_matrix/federation/v1/publicRooms) with
  // the client's body (limit, since, filter, include_all_networks, third_party_instance_id).
  boost::asio::awaitable<Result<json::object>> public_rooms(const std::string& server, json::object body);

  // The profile of a user of another server (GET /_matrix/federation/v1/query/profile),
  // field "" for all of it. The remote server's 403 or 404 comes back as the same error.
  boost::asio::awaitable<Result<json::object>> query_profile(const std::string& user_id, const std::string& field);

 private:
  const Config& config_;
  const SigningKey& key_;
  FederationTransport* transport_;
  FederationMetrics& metrics_;
  ServerAllowList allow_;
};

// Percent-encodes a query component (RFC 3986 unreserved characters stay).
std::string query_escape(std::string_view s);

}  // namespace despatch
