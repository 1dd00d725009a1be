#include "service/auth/jwt.h"

#include "core/base64.h"
#include "core/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cctype>
#include <optional>

namespace despatch {

namespace {

Error refused(const std::string& why) { return Error::forbidden("ID token refused: " + why); }

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn bn_of(const std::string& bytes) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
}

std::shared_ptr<evp_pkey_st> pkey_from(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
    (void)EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return std::shared_ptr<evp_pkey_st>(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

std::string str_member(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::string> b64_member(const json::object& o, const char* k) {
  auto s = str_member(o, k);
  if (s.empty()) return std::nullopt;
  return base64_decode(s);
}

std::shared_ptr<evp_pkey_st> rsa_key(const json::object& jwk) {
  auto n = b64_member(jwk, "n"), e = b64_member(jwk, "e");
  if (!n || !e || n->size() < 256) return nullptr;  // below 2048 bits: refused
  Bn bn_n = bn_of(*n), bn_e = bn_of(*e);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld) return nullptr;
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  auto key = pkey_from("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  return key && key.get() ? key : nullptr;
}

std::shared_ptr<evp_pkey_st> ec_key(const json::object& jwk) {
  if (str_member(jwk, "crv") != "P-256") return nullptr;
  auto x = b64_member(jwk, "x"), y = b64_member(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld) return nullptr;
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  auto key = pkey_from("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return key && key.get() ? key : nullptr;
}

// JOSE's ES256 signature is r || s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> ecdsa_der(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool verify_sha256(evp_pkey_st* key, std::string_view data, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::optional<int64_t> int_claim(const json::object& c, const char* k) {
  auto* v = c.if_contains(k);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return std::nullopt;
}

}  // namespace

Result<JwkSet> JwkSet::parse(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("keys") || !doc.as_object().at("keys").is_array())
    return Error::bad_json("not a JWK set (no keys array)");
  JwkSet set;
  for (auto& v : doc.as_object().at("keys").as_array()) {
    if (!v.is_object()) continue;
    auto& o = v.as_object();
    if (auto use = str_member(o, "use"); !use.empty() && use != "sig") continue;
    Jwk k{str_member(o, "kid"), str_member(o, "kty"), str_member(o, "alg"), nullptr};
    if (k.kty == "RSA") k.key = rsa_key(o);
    else if (k.kty == "EC") k.key = ec_key(o);
    if (k.key) set.keys_.push_back(std::move(k));
  }
  return set;
}

const Jwk* JwkSet::find(const std::string& kid, const std::string& alg) const {
  std::string kty = alg == "RS256" ? "RSA" : alg == "ES256" ? "EC" : "";
  if (kty.empty()) return nullptr;
  const Jwk* only = nullptr;
  size_t fitting = 0;
  for (auto& k : keys_) {
    if (k.kty != kty || (!k.alg.empty() && k.alg != alg)) continue;
    if (!kid.empty() && k.kid == kid) return &k;
    ++fitting;
    only = &k;
  }
  return kid.empty() && fitting == 1 ? only : nullptr;
}

Result<Jwt> parse_jwt(std::string_view token) {
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return refused("not a signed JWT (three dot-separated parts)");
  auto header = base64_decode(token.substr(0, d1));
  auto payload = base64_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64_decode(token.substr(d2 + 1));
  if (!header || !payload || !sig) return refused("bad base64url");
  boost::system::error_code e1, e2;
  json::value h = json::parse(*header, e1), p = json::parse(*payload, e2);
  if (e1 || e2 || !h.is_object() || !p.is_object()) return refused("header or payload is not a JSON object");
  return Jwt{std::move(h.as_object()), std::move(p.as_object()), std::string(token.substr(0, d2)), std::move(*sig)};
}

Status verify_jwt_signature(const Jwt& jwt, const JwkSet& keys) {
  std::string alg = str_member(jwt.header, "alg");
  if (alg != "RS256" && alg != "ES256") return refused("unsupported signature algorithm \"" + alg + "\"");
  const Jwk* k = keys.find(str_member(jwt.header, "kid"), alg);
  if (!k) return refused("no key of the provider's matches kid \"" + str_member(jwt.header, "kid") + "\"");
  std::string sig = jwt.signature;
  if (alg == "ES256") {
    auto der = ecdsa_der(jwt.signature);
    if (!der) return refused("malformed ES256 signature");
    sig = std::move(*der);
  }
  if (!verify_sha256(k->key.get(), jwt.signing_input, sig)) return refused("bad signature");
  return ok_status();
}

Result<json::object> verify_id_token(std::string_view token, const JwkSet& keys, const IdTokenExpect& e) {
  DS_ASSIGN(Jwt jwt, parse_jwt(token));
  DS_TRY(verify_jwt_signature(jwt, keys));
  const json::object& c = jwt.claims;
  std::string iss = str_member(c, "iss");
  if (iss != e.issuer) return refused("issuer is \"" + iss + "\", expected \"" + e.issuer + "\"");
  auto* aud = c.if_contains("aud");
  bool for_us = false;
  size_t audiences = 0;
  if (aud && aud->is_string()) {
    for_us = aud->as_string() == e.audience;
    audiences = 1;
  } else if (aud && aud->is_array()) {
    for (auto& a : aud->as_array()) {
      ++audiences;
      if (a.is_string() && a.as_string() == e.audience) for_us = true;
    }
  }
  if (!for_us) return refused("audience does not include this server's client_id");
  // OpenID Connect Core 3.1.3.7: with several audiences, azp names us.
  if (auto azp = str_member(c, "azp"); (!azp.empty() || audiences > 1) && azp != e.audience)
    return refused("authorized party (azp) is not this server's client_id");
  auto exp = int_claim(c, "exp");
  if (!exp) return refused("no exp");
  if (*exp + e.leeway_s < e.now_s) return refused("expired");
  auto iat = int_claim(c, "iat");
  if (!iat) return refused("no iat");
  if (*iat - e.leeway_s > e.now_s) return refused("issued in the future (iat)");
  if (str_member(c, "sub").empty()) return refused("no sub");
  if (str_member(c, "nonce") != e.nonce || e.nonce.empty()) return refused("nonce does not match the login request");
  return c;
}

std::string pkce_s256(std::string_view verifier) { return base64url_encode(sha256(verifier)); }

bool valid_pkce_verifier(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) return false;
  for (char ch : v)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.' && ch != '_' && ch != '~') return false;
  return true;
}

}  // namespace despatch
