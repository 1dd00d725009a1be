#include "core/ids.h"

#include "core/utf8.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <cstdint>
#include <cstdlib>

namespace despatch {
namespace {

constexpr size_t kRoomIdRandomChars = 18;
constexpr size_t kEventIdHashChars = 43;  // unpadded base64 of a 32-byte sha256

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The opaque part of historical user IDs, room IDs and aliases: UTF-8 without ':' or NUL.
bool is_lenient_opaque(std::string_view s) {
  return s.find(':') == std::string_view::npos && s.find('\0') == std::string_view::npos &&
         is_valid_utf8(s);
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool looks_like_ipv4(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c) && c != '.') return false;
  }
  return true;
}

bool is_ipv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  for (char c : s) {
    bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  // The grammar only bounds the characters; inet_pton enforces RFC 3513's structure.
  std::string copy(s);
  in6_addr addr;
  return inet_pton(AF_INET6, copy.c_str(), &addr) == 1;
}

bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!is_digit(c) && !is_alpha(c) && c != '-' && c != '.') return false;
  }
  return true;
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Splits "<sigil>opaque:server" and checks the shared length, sigil and server rules.
bool split_sigil_id(std::string_view id, char sigil, std::string_view& opaque) {
  if (id.size() > kMaxIdentifierBytes || id.size() < 2 || id[0] != sigil) return false;
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) return false;
  opaque = id.substr(1, colon - 1);
  return is_valid_server_name(id.substr(colon + 1));
}

}  // namespace

bool is_valid_server_name(std::string_view name) {
  std::string_view host = name;
  std::string_view port;
  bool has_port = false;
  if (!name.empty() && name[0] == '[') {
    size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    host = name.substr(0, close + 1);
    std::string_view rest = name.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    if (!is_ipv6(host.substr(1, host.size() - 2))) return false;
  } else {
    size_t colon = name.find(':');
    if (colon != std::string_view::npos) {
      host = name.substr(0, colon);
      port = name.substr(colon + 1);
      has_port = true;
    }
    // All-numeric dotted names can only be IPv4 literals, so hold them to that grammar.
    if (looks_like_ipv4(host) ? !is_ipv4(host) : !is_dns_name(host)) return false;
  }
  return !has_port || is_port(port);
}

bool is_valid_localpart(std::string_view localpart) {
  if (localpart.empty()) return false;
  for (char c : localpart) {
    bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '=' ||
              c == '-' || c == '/' || c == '+';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_user_id(std::string_view user_id) {
  std::string_view local;
  return split_sigil_id(user_id, '@', local) && is_lenient_opaque(local);
}

bool is_compliant_user_id(std::string_view user_id) {
  std::string_view local;
  return split_sigil_id(user_id, '@', local) && is_valid_localpart(local);
}

bool is_valid_room_id(std::string_view room_id) {
  std::string_view opaque;
  return split_sigil_id(room_id, '!', opaque) && !opaque.empty() && is_lenient_opaque(opaque);
}

bool is_valid_room_alias(std::string_view alias) {
  std::string_view opaque;
  return split_sigil_id(alias, '#', opaque) && !opaque.empty() && is_lenient_opaque(opaque);
}

bool is_valid_event_id(std::string_view event_id) {
  if (event_id.size() == 1 + kEventIdHashChars && event_id[0] == '$') {
    // v4+ use the URL-safe alphabet, v3 the standard one; no ID mixes the two.
    bool url_safe = true, standard = true;
    for (char c : event_id.substr(1)) {
      bool alnum = is_digit(c) || is_alpha(c);
      if (!alnum && c != '-' && c != '_') url_safe = false;
      if (!alnum && c != '+' && c != '/') standard = false;
    }
    if (url_safe || standard) return true;
  }
  std::string_view opaque;
  return split_sigil_id(event_id, '$', opaque) && !opaque.empty() && is_lenient_opaque(opaque);
}

std::string_view server_name_of(std::string_view id) {
  size_t colon = id.find(':');
  return colon == std::string_view::npos ? std::string_view() : id.substr(colon + 1);
}

std::string_view localpart_of(std::string_view user_id) {
  if (user_id.empty()) return {};
  return user_id.substr(1, user_id.find(':', 1) - 1);
}

std::string random_string(size_t n) {
  static constexpr char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static const bool kReady = [] { return sodium_init() >= 0; }();
  if (!kReady) std::abort();  // no usable randomness: IDs would be guessable
  std::string out(n, '\0');
  // randombytes_uniform avoids modulo bias.
  for (char& c : out) c = kLetters[randombytes_uniform(sizeof kLetters - 1)];
  return out;
}

std::string make_room_id(std::string_view server_name) {
  std::string id = "!" + random_string(kRoomIdRandomChars) + ":";
  id += server_name;
  return id;
}

}  // namespace despatch
