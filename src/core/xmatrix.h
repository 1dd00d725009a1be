// The X-Matrix Authorization scheme (server-server spec "Request Authentication"): parsing the
// header robustly, and signing and checking the JSON object a request's signature covers.
#pragma once

#include "core/crypto.h"
#include "core/result.h"

#include <optional>
#include <string>
#include <string_view>

namespace despatch {

// The parameters of one X-Matrix header.
struct XMatrixAuth {
  std::string origin;
  std::optional<std::string> destination;  // older servers may leave it out
  std::string key;                         // a key ID: "ed25519:<version>"
  std::string sig;                         // unpadded base64
};

// Longest Authorization header value read (a real one is about 250 bytes).
inline constexpr size_t kMaxXMatrixHeaderBytes = 4096;

// Parses an Authorization header value of scheme X-Matrix (RFC 9110 section 11.4 syntax:
// the scheme, one or more spaces, comma-separated name=value pairs with optional spaces or
// tabs around the commas; names case-insensitive; values as tokens or quoted strings with
// backslash escapes; colons allowed in unquoted values). Unknown parameters are ignored; a
// repeated known parameter is an error. origin must be a server name with a usable port (1
// to 65535, when it has one), destination (when present) one too, key an ed25519 key ID. Any failure: 401 M_UNAUTHORIZED naming the fault.
Result<XMatrixAuth> parse_xmatrix(std::string_view header);

// The object a request's signature covers: method, uri, origin, destination and, when the
// request has a body, its parsed JSON as content.
json::object xmatrix_signed_object(std::string_view method, std::string_view uri, std::string_view origin,
                                   std::string_view destination, const json::value* content);

// The Authorization header value for a request from origin to destination, signed with key.
// uri is the request target: the path from /_matrix with its query string.
std::string sign_xmatrix(const SigningKey& key, std::string_view origin, std::string_view destination,
                         std::string_view method, std::string_view uri, const json::value* content);

// Checks auth's signature over the request with the origin's public key (32 raw bytes). The
// destination signed for is auth's, or this_server when the header carries none. A bad
// signature: 401 M_UNAUTHORIZED.
Status verify_xmatrix(const XMatrixAuth& auth, std::string_view this_server, std::string_view method,
                      std::string_view uri, const json::value* content, std::string_view public_key32);

}  // namespace despatch
