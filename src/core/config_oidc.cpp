// The [oidc] section's checks, and the server's own base URL.
#include "core/config.h"

#include <boost/asio/ip/address.hpp>

#include <algorithm>

namespace despatch {

std::string Config::base_url() const {
  std::string base = public_baseurl;
  if (base.empty()) base = "http://" + listen_address + ":" + std::to_string(listen_port);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

namespace {

// The host of an http:// URL is loopback (127.0.0.0/8, ::1 or localhost).
bool loopback_http(const std::string& url) {
  std::string rest = url.substr(7);
  std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = host.rfind('@'); at != std::string::npos) return false;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

}  // namespace

Status check_oidc(const Oidc& o) {
  if (!o.enabled()) return ok_status();
  bool https = o.issuer.rfind("https://", 0) == 0;
  bool http = o.issuer.rfind("http://", 0) == 0;
  if (!https && !(http && loopback_http(o.issuer)))
    return Error::invalid_param("config: oidc.issuer must be an https:// URL (http:// only to a loopback address)");
  if (o.client_id.empty()) return Error::invalid_param("config: oidc.client_id is required with oidc.issuer");
  if (o.client_secret_file.empty())
    return Error::invalid_param("config: oidc.client_secret_file is required with oidc.issuer");
  if (o.localpart_claim.empty() || o.display_name_claim.empty())
    return Error::invalid_param("config: oidc.localpart_claim and oidc.display_name_claim name ID token claims");
  if (o.access_token_seconds < 1 || o.access_token_seconds > 86400)
    return Error::invalid_param("config: oidc.access_token_seconds must be 1 to 86400");
  if (std::find(o.scopes.begin(), o.scopes.end(), "openid") == o.scopes.end())
    return Error::invalid_param("config: oidc.scopes must include openid");
  return ok_status();
}

}  // namespace despatch
