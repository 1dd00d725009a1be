// HTTP Signatures as ActivityPub servers use them (draft-cavage-http-signatures-12 with
// rsa-sha256 and a SHA-256 Digest header, which Mastodon requires), and the RSA keys they
// are made with. Pure functions over strings: the HTTP layer and the services both use them.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace despatch {

// An RSA key pair in PEM (PKCS#8 private, SubjectPublicKeyInfo public).
struct RsaKeyPair {
  std::string private_pem, public_pem;
  static Result<RsaKeyPair> generate(int bits = 2048);
  // The pair of a private key in PEM (its public half derived from it).
  static Result<RsaKeyPair> from_private_pem(const std::string& private_pem);
};

// RSASSA-PKCS1-v1_5 over SHA-256: the raw signature bytes.
Result<std::string> rsa_sha256_sign(const std::string& private_pem, std::string_view data);
// False for a signature that does not verify; an error for a key that cannot be read.
Result<bool> rsa_sha256_verify(const std::string& public_pem, std::string_view data, std::string_view signature);

// The Digest header value of a body: "SHA-256=<base64>".
std::string digest_header(std::string_view body);

// A parsed Signature header (or Authorization: Signature ...).
struct SignatureHeader {
  std::string key_id;
  std::string algorithm;             // "" when absent (hs2019 and rsa-sha256 are both RSA here)
  std::vector<std::string> headers;  // lower-case, in order; ["date"] when absent, as the draft says
  std::string signature;             // decoded bytes
};
// M_UNAUTHORIZED for anything malformed (missing keyId or signature, bad quoting, bad base64).
Result<SignatureHeader> parse_signature_header(std::string_view value);

// The string a signature covers: one "name: value" line per covered header, the
// pseudo-header (request-target) as "<lower-case method> <target>". headers holds the
// request's headers by lower-case name. M_UNAUTHORIZED when a covered header is missing.
Result<std::string> signing_string(const std::vector<std::string>& covered, std::string_view method,
                                   std::string_view target, const std::map<std::string, std::string>& headers);

// Signs a request: adds Date (when missing), Digest (when there is a body) and Signature to
// headers, covering (request-target), host, date, and digest and content-type with a body.
Status sign_request(std::map<std::string, std::string>& headers, std::string_view method, std::string_view target,
                    std::string_view body, const std::string& key_id, const std::string& private_pem);

// Checks a signed request against the key's PEM: the signature, that it covers
// (request-target), host and date (and digest when there is a body), that the Digest matches
// the body, and that Date is within max_skew_s of now_s. M_UNAUTHORIZED saying what failed.
Status verify_request(const SignatureHeader& sig, std::string_view method, std::string_view target,
                      const std::map<std::string, std::string>& headers, std::string_view body,
                      const std::string& public_pem, int64_t now_s, int64_t max_skew_s = 3600);

// An HTTP date (RFC 7231 IMF-fixdate) for unix seconds, and back (-1 when unreadable).
std::string http_date(int64_t unix_s);
int64_t parse_http_date(std::string_view text);

}  // namespace despatch
