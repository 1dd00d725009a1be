#include "core/web_transport.h"

namespace despatch {

Result<WebUrl> parse_web_url(const std::string& url) {
  WebUrl out;
  size_t sep = url.find("://");
  if (sep == std::string::npos) return Error::invalid_param("not an absolute URL: " + url);
  out.scheme = url.substr(0, sep);
  for (auto& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.scheme != "https" && out.scheme != "http") return Error::invalid_param("not an http(s) URL: " + url);
  size_t start = sep + 3;
  size_t slash = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
  if (authority.empty() || authority.find('@') != std::string::npos)
    return Error::invalid_param("URL without a plain host: " + url);
  out.port = out.scheme == "https" ? 443 : 80;
  std::string host = authority;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return Error::invalid_param("malformed IPv6 host in " + url);
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Error::invalid_param("malformed host in " + url);
      authority = authority.substr(close + 2);
    } else {
      authority.clear();
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    authority = authority.substr(colon + 1);
  } else {
    authority.clear();
  }
  if (!authority.empty()) {
    if (authority.size() > 5 || authority.find_first_not_of("0123456789") != std::string::npos)
      return Error::invalid_param("bad port in " + url);
    int port = std::stoi(authority);
    if (port < 1 || port > 65535) return Error::invalid_param("bad port in " + url);
    out.port = static_cast<uint16_t>(port);
  }
  if (host.empty()) return Error::invalid_param("URL without a host: " + url);
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.host = host;
  std::string rest = slash == std::string::npos ? "/" : url.substr(slash);
  if (auto hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  if (rest.empty() || rest[0] == '?') rest = "/" + rest;
  out.target = rest;
  return out;
}

}  // namespace despatch
