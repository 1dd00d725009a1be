// Dynamic client registration's checks (spec "Client metadata", "Redirect URI validation").
#include "service/auth/oauth_server.h"

#include <cctype>
#include <optional>

namespace despatch {

namespace {

// The parts of a URI these checks look at (RFC 3986 generic syntax).
struct Uri {
  std::string scheme, host, path_query;
  bool has_authority = false, has_userinfo = false, has_port = false, has_fragment = false;
};

std::optional<Uri> parse_uri(const std::string& s) {
  auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Uri u;
  u.scheme = s.substr(0, colon);
  for (char c : u.scheme)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return std::nullopt;
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string rest = s.substr(colon + 1);
  if (auto h = rest.find('#'); h != std::string::npos) {
    u.has_fragment = true;
    rest.resize(h);
  }
  if (rest.rfind("//", 0) == 0) {
    u.has_authority = true;
    rest = rest.substr(2);
    auto end = rest.find_first_of("/?");
    std::string authority = rest.substr(0, end);
    u.path_query = end == std::string::npos ? "" : rest.substr(end);
    if (auto at = authority.rfind('@'); at != std::string::npos) {
      u.has_userinfo = true;
      authority = authority.substr(at + 1);
    }
    if (!authority.empty() && authority.front() == '[') {
      auto close = authority.find(']');
      if (close == std::string::npos) return std::nullopt;
      u.host = authority.substr(0, close + 1);
      u.has_port = close + 1 < authority.size();
    } else {
      auto pc = authority.find(':');
      u.host = authority.substr(0, pc);
      u.has_port = pc != std::string::npos;
    }
    for (auto& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.host.empty()) return std::nullopt;
  } else {
    u.path_query = rest;
  }
  return u;
}

Error bad_metadata(const std::string& m) { return Error{400, "invalid_client_metadata", m, {}}; }
Error bad_redirect(const std::string& m) { return Error{400, "invalid_redirect_uri", m, {}}; }

bool same_or_subdomain(const std::string& host, const std::string& base) {
  return host == base || (host.size() > base.size() && host.compare(host.size() - base.size(), base.size(), base) == 0 &&
                          host[host.size() - base.size() - 1] == '.');
}

// https, no user or password, on the client URI's host or a subdomain of it.
Status check_web_uri(const std::string& s, const Uri& u, const std::string& client_host, bool redirect) {
  auto fail = [&](const std::string& why) { return redirect ? bad_redirect(s + ": " + why) : bad_metadata(s + ": " + why); };
  if (u.scheme != "https" || !u.has_authority) return fail("must be an https URI");
  if (u.has_userinfo) return fail("must not carry a user or password");
  if (!same_or_subdomain(u.host, client_host)) return fail("must be on the host of client_uri or a subdomain of it");
  return ok_status();
}

bool loopback_host(const std::string& h) { return h == "localhost" || h == "127.0.0.1" || h == "[::1]"; }

Status check_redirect_uri(const std::string& s, const std::string& client_host, bool native) {
  auto u = parse_uri(s);
  if (!u) return bad_redirect(s + ": not a URI");
  if (u->has_fragment) return bad_redirect(s + ": must not have a fragment");
  if (!native || u->scheme == "https") return check_web_uri(s, *u, client_host, true);
  if (u->scheme == "http") {
    if (!u->has_authority || !loopback_host(u->host))
      return bad_redirect(s + ": a native client's http redirect URI must be on localhost, 127.0.0.1 or [::1]");
    if (u->has_port || u->has_userinfo) return bad_redirect(s + ": a loopback redirect URI must not name a port");
    return ok_status();
  }
  // Private-use scheme: the client URI's host in reverse-DNS order, then optional labels.
  std::string reversed;
  for (size_t end = client_host.size(); end != std::string::npos && end > 0;) {
    auto dot = client_host.rfind('.', end - 1);
    std::string label = client_host.substr(dot == std::string::npos ? 0 : dot + 1,
                                           dot == std::string::npos ? end : end - dot - 1);
    reversed += (reversed.empty() ? "" : ".") + label;
    if (dot == std::string::npos) break;
    end = dot;
  }
  if (u->scheme != reversed && u->scheme.rfind(reversed + ".", 0) != 0)
    return bad_redirect(s + ": a private-use scheme must start with " + reversed);
  if (u->has_authority) return bad_redirect(s + ": a private-use scheme URI must not have an authority (//)");
  return ok_status();
}

}  // namespace

Result<json::object> check_client_metadata(const json::object& m) {
  auto str = [&](const char* k) -> Result<std::string> {
    auto* v = m.if_contains(k);
    if (!v) return std::string();
    if (!v->is_string()) return bad_metadata(std::string(k) + " must be a string");
    return std::string(v->as_string());
  };
  DS_ASSIGN(std::string client_uri, str("client_uri"));
  if (client_uri.empty()) return bad_metadata("client_uri is required");
  auto cu = parse_uri(client_uri);
  if (!cu) return bad_metadata("client_uri is not a URI");
  if (cu->scheme != "https" || !cu->has_authority || cu->has_userinfo)
    return bad_metadata("client_uri must be an https URI without a user or password");
  DS_ASSIGN(std::string app_type, str("application_type"));
  if (app_type.empty()) app_type = "web";
  if (app_type != "web" && app_type != "native") return bad_metadata("application_type is web or native");
  DS_ASSIGN(std::string auth_method, str("token_endpoint_auth_method"));
  if (!auth_method.empty() && auth_method != "none")
    return bad_metadata("only public clients (token_endpoint_auth_method none) are supported");
  json::object out{{"client_uri", client_uri}, {"application_type", app_type}, {"token_endpoint_auth_method", "none"}};
  DS_ASSIGN(std::string name, str("client_name"));
  if (!name.empty()) out["client_name"] = name.substr(0, 256);
  for (const char* k : {"logo_uri", "tos_uri", "policy_uri"}) {
    DS_ASSIGN(std::string v, str(k));
    if (v.empty()) continue;
    auto u = parse_uri(v);
    if (!u) return bad_metadata(std::string(k) + " is not a URI");
    DS_TRY(check_web_uri(v, *u, cu->host, false));
    out[k] = v;
  }
  auto* redirects = m.if_contains("redirect_uris");
  if (!redirects || !redirects->is_array() || redirects->as_array().empty())
    return bad_redirect("redirect_uris must list at least one redirect URI");
  json::array uris;
  for (auto& v : redirects->as_array()) {
    if (!v.is_string()) return bad_redirect("redirect_uris holds strings");
    DS_TRY(check_redirect_uri(std::string(v.as_string()), cu->host, app_type == "native"));
    uris.push_back(v);
  }
  out["redirect_uris"] = std::move(uris);
  // Values this server does not know are ignored, as RFC 7591 2 says.
  json::array grants;
  if (auto* g = m.if_contains("grant_types"); g && g->is_array()) {
    for (auto& v : g->as_array())
      if (v == "authorization_code" || v == "refresh_token") grants.push_back(v);
  } else {
    grants = {"authorization_code", "refresh_token"};
  }
  out["grant_types"] = std::move(grants);
  out["response_types"] = json::array{"code"};
  return out;
}

bool redirect_uri_matches(const json::array& registered, const std::string& redirect_uri) {
  auto asked = parse_uri(redirect_uri);
  for (auto& r : registered) {
    if (!r.is_string()) continue;
    if (r.as_string() == redirect_uri) return true;
    // A registered loopback URI takes any port (RFC 8252 7.3).
    auto reg = parse_uri(std::string(r.as_string()));
    if (asked && reg && reg->scheme == "http" && asked->scheme == "http" && loopback_host(reg->host) &&
        !reg->has_port && asked->host == reg->host && !asked->has_userinfo && !asked->has_fragment &&
        asked->path_query == reg->path_query)
      return true;
  }
  return false;
}

}  // namespace despatch
