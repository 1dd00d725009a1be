#include "core/xmatrix.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/ids.h"
#include "core/server_name.h"

#include <cctype>

namespace despatch {
namespace {

Error unauthorized(std::string m) { return Error{401, errc::kUnauthorized, std::move(m), {}}; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 tchar.
bool is_tchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// An unquoted value: a token, plus the characters older servers leave unquoted (':' in
// server names, '/' and '=' in base64).
bool is_bare_value_char(char c) { return is_tchar(c) || c == ':' || c == '/' || c == '=' || c == '[' || c == ']'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool is_key_id(std::string_view key) {
  constexpr std::string_view kPrefix = "ed25519:";
  if (key.size() <= kPrefix.size() || key.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : key.substr(kPrefix.size()))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

Result<XMatrixAuth> parse_xmatrix(std::string_view h) {
  if (h.size() > kMaxXMatrixHeaderBytes) return unauthorized("X-Matrix Authorization header too long");
  for (char c : h)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      return unauthorized("X-Matrix Authorization header holds control characters");
  constexpr std::string_view kScheme = "X-Matrix";
  if (h.size() < kScheme.size() || !iequals(h.substr(0, kScheme.size()), kScheme))
    return unauthorized("Authorization header is not of the X-Matrix scheme");
  size_t i = kScheme.size();
  if (i < h.size() && h[i] != ' ') return unauthorized("Authorization header is not of the X-Matrix scheme");
  while (i < h.size() && h[i] == ' ') ++i;

  std::optional<std::string> origin, destination, key, sig;
  while (i < h.size()) {
    while (i < h.size() && (is_ows(h[i]) || h[i] == ',')) ++i;  // empty list elements are allowed
    if (i >= h.size()) break;
    size_t name_start = i;
    while (i < h.size() && is_tchar(h[i])) ++i;
    std::string_view name = h.substr(name_start, i - name_start);
    if (name.empty()) return unauthorized("X-Matrix header: expected a parameter name");
    while (i < h.size() && is_ows(h[i])) ++i;
    if (i >= h.size() || h[i] != '=') return unauthorized("X-Matrix header: parameter without '='");
    ++i;
    while (i < h.size() && is_ows(h[i])) ++i;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      bool closed = false;
      while (i < h.size()) {
        char c = h[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= h.size()) break;
          c = h[i++];
        }
        value.push_back(c);
      }
      if (!closed) return unauthorized("X-Matrix header: unterminated quoted value");
    } else {
      size_t v0 = i;
      while (i < h.size() && is_bare_value_char(h[i])) ++i;
      value = std::string(h.substr(v0, i - v0));
    }
    while (i < h.size() && is_ows(h[i])) ++i;
    if (i < h.size() && h[i] != ',') return unauthorized("X-Matrix header: expected ',' between parameters");

    std::optional<std::string>* slot = nullptr;
    if (iequals(name, "origin")) slot = &origin;
    else if (iequals(name, "destination")) slot = &destination;
    else if (iequals(name, "key")) slot = &key;
    else if (iequals(name, "sig") || iequals(name, "signature")) slot = &sig;
    if (!slot) continue;  // unknown parameters are ignored
    if (*slot) return unauthorized("X-Matrix header: parameter " + std::string(name) + " given twice");
    *slot = std::move(value);
  }

  if (!origin) return unauthorized("X-Matrix header has no origin");
  if (!key) return unauthorized("X-Matrix header has no key");
  if (!sig) return unauthorized("X-Matrix header has no sig");
  // parse_server_name, not the bare grammar: a port must also be 1 to 65535, so that the
  // allow-list and discovery see the same names as this check.
  if (!parse_server_name(*origin)) return unauthorized("X-Matrix origin is not a server name");
  if (destination && !parse_server_name(*destination))
    return unauthorized("X-Matrix destination is not a server name");
  if (!is_key_id(*key)) return unauthorized("X-Matrix key is not an ed25519 key ID");
  if (sig->empty() || !base64_decode(*sig)) return unauthorized("X-Matrix sig is not base64");
  return XMatrixAuth{std::move(*origin), std::move(destination), std::move(*key), std::move(*sig)};
}

json::object xmatrix_signed_object(std::string_view method, std::string_view uri, std::string_view origin,
                                   std::string_view destination, const json::value* content) {
  json::object o{{"method", method}, {"uri", uri}, {"origin", origin}, {"destination", destination}};
  if (content) o["content"] = *content;
  return o;
}

std::string sign_xmatrix(const SigningKey& key, std::string_view origin, std::string_view destination,
                         std::string_view method, std::string_view uri, const json::value* content) {
  json::object o = xmatrix_signed_object(method, uri, origin, destination, content);
  std::string sig = base64_encode(key.sign(canonical_json(o)));
  // As the spec asks senders: one space, lower-case names, no spaces around commas. Server
  // names and key IDs hold no '"' or '\\', so quoting needs no escapes.
  return "X-Matrix origin=\"" + std::string(origin) + "\",destination=\"" + std::string(destination) +
         "\",key=\"" + key.key_id() + "\",sig=\"" + sig + "\"";
}

Status verify_xmatrix(const XMatrixAuth& auth, std::string_view this_server, std::string_view method,
                      std::string_view uri, const json::value* content, std::string_view public_key32) {
  json::object o = xmatrix_signed_object(method, uri, auth.origin, auth.destination.value_or(std::string(this_server)),
                                         content);
  auto raw = base64_decode(auth.sig);
  if (!raw || !ed25519_verify(public_key32, canonical_json(o), *raw))
    return unauthorized("X-Matrix signature from " + auth.origin + " with key " + auth.key + " does not verify");
  return ok_status();
}

}  // namespace despatch
