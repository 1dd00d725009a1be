// JSON Web Tokens as OpenID Connect uses them: JWK sets (RFC 7517), signatures RS256 and
// ES256 (RFC 7518) checked with OpenSSL, the ID token's claims (OpenID Connect Core 3.1.3.7),
// and PKCE's S256 (RFC 7636).
#pragma once

#include "core/result.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

namespace despatch {

// One public key of a provider's JWK set.
struct Jwk {
  std::string kid;
  std::string kty;  // RSA | EC
  std::string alg;  // may be empty: then any algorithm of its key type
  std::shared_ptr<evp_pkey_st> key;
};

class JwkSet {
 public:
  // Parses {"keys": [...]}; keys of other types, curves or uses (enc) are skipped. M_BAD_JSON
  // when the document is not a JWK set.
  static Result<JwkSet> parse(std::string_view json_text);
  // The key for a token's kid and alg (kid empty: the only key that fits alg), or null.
  const Jwk* find(const std::string& kid, const std::string& alg) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<Jwk> keys_;
};

struct Jwt {
  json::object header, claims;
  std::string signing_input;  // base64url(header) "." base64url(payload)
  std::string signature;      // raw bytes
};

// Splits and decodes a compact JWS; M_FORBIDDEN when it is not one.
Result<Jwt> parse_jwt(std::string_view token);

// Checks the signature with the set's key for the token's kid and alg (RS256 or ES256 only;
// "none" and HMAC are refused). M_FORBIDDEN with the reason otherwise.
Status verify_jwt_signature(const Jwt& jwt, const JwkSet& keys);

// What an ID token must say to be accepted.
struct IdTokenExpect {
  std::string issuer;    // iss, exactly
  std::string audience;  // our client_id: in aud, and azp when aud has several
  std::string nonce;     // the one sent with the authorization request
  int64_t now_s = 0;
  int64_t leeway_s = 60;  // clock skew allowed for exp and iat
};

// Signature, then iss, aud, azp, exp, iat and nonce; the claims when all hold, else
// M_FORBIDDEN naming the first that does not.
Result<json::object> verify_id_token(std::string_view token, const JwkSet& keys, const IdTokenExpect& expect);

// BASE64URL(SHA256(verifier)), the S256 code challenge.
std::string pkce_s256(std::string_view verifier);
// RFC 7636 4.1: 43 to 128 characters of A-Z a-z 0-9 - . _ ~
bool valid_pkce_verifier(std::string_view verifier);

}  // namespace despatch
