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
  if (!transport_ || !allow_.allows(destination)) {
    ++metrics_.outgoing_refused_not_allowed;
    co_return Error::forbidden(transport_ ? destination + " is not on this server's federation allow-list"
                                          : "federation is not enabled on this server");
  }
  FederationRequest req{destination, method, target, std::move(body), ""};
  if (sign)
    req.authorization = sign_xmatrix(key_, config_.server_name, destination, method, target,
                                     req.body ? &*req.body : nullptr);
  ++metrics_.outgoing;
  auto res = co_await transport_->send(std::move(req));
  if (!res.ok()) {
    ++metrics_.outgoing_failed;
    DS_LOG(kWarn, "federation: {} {} to {}: {}", method, target, destination, res.error().message);
  }
  co_return res;
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
