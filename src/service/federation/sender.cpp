#include "service/federation/sender.h"

#include "core/ids.h"
#include "core/log.h"
#include "core/xmatrix.h"

namespace despatch {

namespace asio = boost::asio;

std::string query_escape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

FederationSender::FederationSender(const Config& config, const SigningKey& key, FederationTransport* transport,
                                   FederationMetrics& metrics)
    : config_(config), key_(key), transport_(transport), metrics_(metrics), allow_(config.federation.allow) {}

asio::awaitable<Result<FederationResponse>> FederationSender::send(const std::string& destination,
                                                                   const std::string& method, const std::string& target,
                                                                   std::optional<json::value> body, bool sign) {
  FederationRequest req{destination, method, target, std::move(body), ""};
  co_return co_await send(std::move(req), sign);
}

asio::awaitable<Result<FederationResponse>> FederationSender::send(FederationRequest req, bool sign) {
  if (!transport_ || !allow_.allows(req.destination)) {
    ++metrics_.outgoing_refused_not_allowed;
    co_return Error::forbidden(transport_ ? req.destination + " is not on this server's federation allow-list"
                                          : "federation is not enabled on this server");
  }
  if (sign)
    req.authorization = sign_xmatrix(key_, config_.server_name, req.destination, req.method, req.target,
                                     req.body ? &*req.body : nullptr);
  ++metrics_.outgoing;
  std::string method = req.method, target = req.target, destination = req.destination;
  auto res = co_await transport_->send(std::move(req));
  if (!res.ok()) {
    ++metrics_.outgoing_failed;
    DS_LOG(kWarn, "federation: {} {} to {}: {}", method, target, destination, res.error().message);
  }
  co_return res;
}

namespace {

// A JSON answer of another server as a result: its 404 and 403 come back as the same errors,
// anything else but 200 as 502.
Result<json::object> json_answer(const std::string& server, const std::string& what, const FederationResponse& res) {
  if (res.status == 200 && res.body.is_object()) return res.body.as_object();
  std::string why = res.error_text();
  if (res.status == 404) return Error::not_found(what + " not found (" + server + ": " + why + ")");
  if (res.status == 403) return Error::forbidden(server + " refused the " + what + " query: " + why);
  return Error::make(502, errc::kUnknown,
                     server + " answered the " + what + " query with status " + std::to_string(res.status) + ": " + why);
}

}  // namespace

asio::awaitable<Result<FederationSender::MediaAnswer>> FederationSender::download_media(const std::string& server_name,
                                                                                        const std::string& media_id,
                                                                                        int64_t timeout_ms,
                                                                                        size_t max_bytes) {
  // Room for the multipart framing around the file.
  constexpr size_t kFraming = 64 << 10;
  constexpr int64_t kTransferMs = 30'000;
  std::string wait = std::to_string(timeout_ms);
  FederationRequest req{server_name, "GET",
                        "/_matrix/federation/v1/media/download/" + query_escape(media_id) + "?timeout_ms=" + wait,
                        std::nullopt, ""};
  req.max_response_bytes = max_bytes + kFraming;
  req.timeout = std::chrono::milliseconds(timeout_ms + kTransferMs);
  FederationRequest legacy = req;
  DS_CO_ASSIGN(FederationResponse res, co_await send(std::move(req)));
  if (res.status != 404 || res.errcode() != errc::kUnrecognized) co_return MediaAnswer{std::move(res), true};
  // A server older than spec 1.11: its unauthenticated route, told not to ask further.
  legacy.target = "/_matrix/media/v3/download/" + query_escape(server_name) + "/" + query_escape(media_id) +
                  "?allow_remote=false&timeout_ms=" + wait;
  legacy.max_response_bytes = max_bytes;
  DS_CO_ASSIGN(FederationResponse old, co_await send(std::move(legacy)));
  co_return MediaAnswer{std::move(old), false};
}

asio::awaitable<Result<json::object>> FederationSender::query_directory(const std::string& alias) {
  std::string server(server_name_of(alias));
  const std::string method = "GET";
  std::string target = "/_matrix/federation/v1/query/directory?room_alias=" + query_escape(alias);
  DS_CO_ASSIGN(FederationResponse res, co_await send(server, method, target, std::nullopt));
  DS_CO_ASSIGN(json::object out, json_answer(server, "room alias", res));
  // Checked here so that callers can rely on the shape.
  auto* room = json_string_at(out, "room_id");
  if (!room || !is_valid_room_id(*room)) co_return Error::make(502, errc::kUnknown, server + " sent no valid room_id");
  json::array servers;
  if (auto* list = out.if_contains("servers"); list && list->is_array())
    for (auto& s : list->as_array())
      if (s.is_string() && is_valid_server_name(s.as_string()) && servers.size() < 100) servers.push_back(s);
  json::object checked;
  checked["room_id"] = json::string(*room);
  checked["servers"] = std::move(servers);
  co_return checked;
}

asio::awaitable<Result<json::object>> FederationSender::public_rooms(const std::string& server, json::object body) {
  const std::string method = "POST";
  const std::string target = "/_matrix/federation/v1/publicRooms";
  DS_CO_ASSIGN(FederationResponse res, co_await send(server, method, target, json::value(std::move(body))));
  DS_CO_ASSIGN(json::object out, json_answer(server, "public rooms", res));
  if (auto* chunk = out.if_contains("chunk"); !chunk || !chunk->is_array())
    co_return Error::make(502, errc::kUnknown, server + " sent a room directory without a chunk");
  co_return out;
}

asio::awaitable<Result<json::object>> FederationSender::query_profile(const std::string& user_id,
                                                                      const std::string& field) {
  std::string server(server_name_of(user_id));
  std::string target = "/_matrix/federation/v1/query/profile?user_id=" + query_escape(user_id);
  if (!field.empty()) target += "&field=" + query_escape(field);
  const std::string method = "GET";
  DS_CO_ASSIGN(FederationResponse res, co_await send(server, method, target, std::nullopt));
  if (res.status == 200 && res.body.is_object()) co_return res.body.as_object();
  std::string why = "no answer";
  if (res.body.is_object())
    if (auto* e = res.body.as_object().if_contains("error"); e && e->is_string()) why = std::string(e->get_string());
  if (res.status == 404) co_return Error::not_found("Profile not found (" + server + ": " + why + ")");
  if (res.status == 403) co_return Error::forbidden(server + " refused the profile query: " + why);
  co_return Error::make(502, errc::kUnknown,
                        server + " answered the profile query with status " + std::to_string(res.status) + ": " + why);
}

}  // namespace despatch
