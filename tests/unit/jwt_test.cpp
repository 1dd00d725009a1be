// ID token verification (RS256 and ES256 with keys made here, as a provider's JWK set would
// publish them), PKCE S256 against RFC 7636's example, the form encoding and the client
// registration rules of the OAuth 2.0 API.
#include "service/auth/jwt.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/config.h"
#include "service/auth/form.h"
#include "service/auth/oauth_server.h"
#include "service/auth/sso_service.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace despatch {
namespace {

constexpr int64_t kNow = 1'800'000'000;

std::string bn_param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// A provider's signing key: the private half signs, jwk() is the public half as published.
struct TestKey {
  std::shared_ptr<EVP_PKEY> key;
  std::string alg, kid;

  static TestKey rsa(std::string kid) {
    return {std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(2048), EVP_PKEY_free), "RS256", std::move(kid)};
  }
  static TestKey ec(std::string kid) {
    return {std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free), "ES256", std::move(kid)};
  }

  json::object jwk() const {
    if (alg == "RS256")
      return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"},
              {"n", base64url_encode(bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N))},
              {"e", base64url_encode(bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E))}};
    unsigned char pub[65];
    size_t len = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len), 1);
    std::string point(reinterpret_cast<char*>(pub), len);
    return {{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"},
            {"x", base64url_encode(point.substr(1, 32))}, {"y", base64url_encode(point.substr(33, 32))}};
  }

  std::string sign(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()), 1);
    EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
    std::string sig(len, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    if (alg == "RS256") return sig;
    // DER to JOSE's r || s.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
  }

  std::string token(const json::object& claims, json::object header = {}) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    std::string input = base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(claims));
    return input + "." + base64url_encode(sign(input));
  }
};

JwkSet set_of(std::initializer_list<const TestKey*> keys) {
  json::array arr;
  for (auto* k : keys) arr.push_back(k->jwk());
  auto set = JwkSet::parse(json::serialize(json::object{{"keys", arr}}));
  EXPECT_TRUE(set.ok());
  return *set;
}

json::object good_claims() {
  return {{"iss", "https://idp.example.gov"}, {"aud", "despatch"}, {"sub", "248289761001"},
          {"exp", kNow + 300}, {"iat", kNow - 5}, {"nonce", "n-0S6_WzA2Mj"}, {"preferred_username", "alice"}};
}

IdTokenExpect expect() { return {"https://idp.example.gov", "despatch", "n-0S6_WzA2Mj", kNow, 60}; }

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestKey(TestKey::rsa("rsa-1"));
    ec_ = new TestKey(TestKey::ec("ec-1"));
    other_ = new TestKey(TestKey::rsa("rsa-1"));  // same kid, another key: an impostor
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete other_;
  }
  static TestKey* rsa_;
  static TestKey* ec_;
  static TestKey* other_;
};
TestKey* JwtTest::rsa_ = nullptr;
TestKey* JwtTest::ec_ = nullptr;
TestKey* JwtTest::other_ = nullptr;

TEST_F(JwtTest, AcceptsRs256AndEs256) {
  JwkSet keys = set_of({rsa_, ec_});
  EXPECT_EQ(keys.size(), 2u);
  auto r = verify_id_token(rsa_->token(good_claims()), keys, expect());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("preferred_username"), "alice");
  auto e = verify_id_token(ec_->token(good_claims()), keys, expect());
  ASSERT_TRUE(e.ok()) << e.error().message;
}

TEST_F(JwtTest, RefusesATamperedPayloadOrSignature) {
  JwkSet keys = set_of({rsa_, ec_});
  std::string token = rsa_->token(good_claims());
  // Swap the payload for one that names someone else, keeping the signature.
  json::object forged = good_claims();
  forged["preferred_username"] = "root";
  auto d1 = token.find('.'), d2 = token.rfind('.');
  std::string swapped = token.substr(0, d1 + 1) + base64url_encode(json::serialize(forged)) + token.substr(d2);
  auto r = verify_id_token(swapped, keys, expect());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  EXPECT_NE(r.error().message.find("bad signature"), std::string::npos) << r.error().message;
  // A character inside the signature (the last one may carry only unused bits).
  std::string flipped = token;
  size_t mid = d2 + 1 + (token.size() - d2) / 2;
  flipped[mid] = flipped[mid] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_id_token(flipped, keys, expect()).ok());
  std::string ec_token = ec_->token(good_claims());
  size_t ec_mid = ec_token.size() - 20;
  ec_token[ec_mid] = ec_token[ec_mid] == 'x' ? 'y' : 'x';
  EXPECT_FALSE(verify_id_token(ec_token, keys, expect()).ok());
}

TEST_F(JwtTest, RefusesAnotherKeyWithTheSameKid) {
  auto r = verify_id_token(other_->token(good_claims()), set_of({rsa_}), expect());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bad signature"), std::string::npos);
}

TEST_F(JwtTest, RefusesNoneHmacAndUnknownKid) {
  JwkSet keys = set_of({rsa_});
  std::string unsigned_token = base64url_encode(R"({"alg":"none"})") + "." +
                               base64url_encode(json::serialize(good_claims())) + ".";
  EXPECT_FALSE(verify_id_token(unsigned_token, keys, expect()).ok());
  auto hs = verify_id_token(rsa_->token(good_claims(), {{"alg", "HS256"}}), keys, expect());
  ASSERT_FALSE(hs.ok());
  EXPECT_NE(hs.error().message.find("unsupported signature algorithm"), std::string::npos);
  auto kid = verify_id_token(rsa_->token(good_claims(), {{"kid", "rotated"}}), keys, expect());
  ASSERT_FALSE(kid.ok());
  EXPECT_NE(kid.error().message.find("no key"), std::string::npos);
  EXPECT_FALSE(verify_id_token("not.a-jwt", keys, expect()).ok());
  EXPECT_FALSE(verify_id_token("", keys, expect()).ok());
}

TEST_F(JwtTest, ChecksEveryClaim) {
  JwkSet keys = set_of({rsa_});
  auto refused_with = [&](const char* claim, json::value value, const char* why) {
    json::object c = good_claims();
    if (value.is_null()) c.erase(claim);
    else c[claim] = value;
    auto r = verify_id_token(rsa_->token(c), keys, expect());
    ASSERT_FALSE(r.ok()) << claim;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << claim << ": " << r.error().message;
  };
  refused_with("iss", "https://evil.example", "issuer");
  refused_with("iss", nullptr, "issuer");
  refused_with("aud", "someone-else", "audience");
  refused_with("aud", json::array{"a", "b"}, "audience");
  refused_with("exp", kNow - 61, "expired");
  refused_with("exp", nullptr, "no exp");
  refused_with("iat", kNow + 3600, "future");
  refused_with("nonce", "replayed", "nonce");
  refused_with("nonce", nullptr, "nonce");
  refused_with("sub", nullptr, "sub");
  // Several audiences: azp must name us.
  json::object multi = good_claims();
  multi["aud"] = json::array{"despatch", "other"};
  EXPECT_FALSE(verify_id_token(rsa_->token(multi), keys, expect()).ok());
  multi["azp"] = "despatch";
  EXPECT_TRUE(verify_id_token(rsa_->token(multi), keys, expect()).ok());
  // Within the leeway an expiry just past is still accepted.
  json::object late = good_claims();
  late["exp"] = kNow - 30;
  EXPECT_TRUE(verify_id_token(rsa_->token(late), keys, expect()).ok());
}

TEST_F(JwtTest, JwkSetSkipsWhatItCannotUse) {
  json::object enc = rsa_->jwk();
  enc["use"] = "enc";
  json::object small{{"kty", "RSA"}, {"kid", "tiny"}, {"n", base64url_encode("\x01\x02")}, {"e", "AQAB"}};
  json::object curve{{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}};
  auto set = JwkSet::parse(json::serialize(json::object{{"keys", json::array{enc, small, curve, ec_->jwk()}}}));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 1u);
  EXPECT_FALSE(JwkSet::parse("{}").ok());
  EXPECT_FALSE(JwkSet::parse("not json").ok());
}

TEST(PkceTest, Rfc7636AppendixB) {
  EXPECT_EQ(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  EXPECT_TRUE(valid_pkce_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
  EXPECT_FALSE(valid_pkce_verifier("short"));
  EXPECT_FALSE(valid_pkce_verifier(std::string(129, 'a')));
  EXPECT_FALSE(valid_pkce_verifier(std::string(42, 'a') + "+"));
}

TEST(FormTest, EncodesAndDecodes) {
  EXPECT_EQ(form_encode({{"a b", "c&d=e"}, {"x", "é"}}), "a%20b=c%26d%3De&x=%C3%A9");
  auto m = form_decode("grant_type=authorization_code&code=a%2Bb+c&empty=&bad=%zz&code=second");
  EXPECT_EQ(m["grant_type"], "authorization_code");
  EXPECT_EQ(m["code"], "a+b c");
  EXPECT_EQ(m["empty"], "");
  EXPECT_EQ(m["bad"], "%zz");
  EXPECT_EQ(add_url_params("https://c.example/cb?x=1#f", {{"code", "k"}}), "https://c.example/cb?x=1&code=k#f");
  EXPECT_EQ(add_url_params("https://c.example/cb", {{"code", "k"}}, true), "https://c.example/cb#code=k");
}

TEST(ClientRegistrationTest, SpecExamples) {
  auto with = [](json::object extra) {
    json::object m{{"client_uri", "https://example.com/"}, {"redirect_uris", json::array{"https://app.example.com/callback"}}};
    for (auto& [k, v] : extra) m[k] = v;
    return check_client_metadata(m);
  };
  auto uris = [&](const char* type, std::initializer_list<const char*> list) {
    json::array a;
    for (auto* u : list) a.push_back(json::string(u));
    return with({{"application_type", type}, {"redirect_uris", a}});
  };
  ASSERT_TRUE(with({}).ok());
  EXPECT_EQ(with({})->at("application_type"), "web");
  for (auto* ok : {"https://example.com/callback", "https://app.example.com/callback", "https://example.com:5173/?query=value"})
    EXPECT_TRUE(uris("web", {ok}).ok()) << ok;
  for (auto* bad : {"https://example.com/callback#fragment", "http://example.com/callback", "http://localhost/",
                    "https://app.com/callback", "https://user:pw@example.com/cb"}) {
    auto r = uris("web", {bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().errcode, "invalid_redirect_uri") << bad;
  }
  for (auto* ok : {"com.example.app:/callback", "com.example:/", "com.example:callback", "http://localhost/callback",
                   "http://127.0.0.1/callback", "http://[::1]/callback", "https://example.com/cb"})
    EXPECT_TRUE(uris("native", {ok}).ok()) << ok;
  for (auto* bad : {"example:/callback", "com.example.app://callback", "https://localhost/callback",
                    "http://localhost:1234/callback"})
    EXPECT_FALSE(uris("native", {bad}).ok()) << bad;
  auto no_uri = check_client_metadata(json::object{{"redirect_uris", json::array{"https://example.com/"}}});
  ASSERT_FALSE(no_uri.ok());
  EXPECT_EQ(no_uri.error().errcode, "invalid_client_metadata");
  EXPECT_FALSE(with({{"client_uri", "http://example.com/"}}).ok());
  EXPECT_FALSE(with({{"token_endpoint_auth_method", "client_secret_basic"}}).ok());
  EXPECT_FALSE(with({{"logo_uri", "https://elsewhere.example/logo.png"}}).ok());
  EXPECT_FALSE(with({{"redirect_uris", json::array{}}}).ok());
}

TEST(ClientRegistrationTest, LoopbackRedirectTakesAnyPort) {
  json::array reg{"http://127.0.0.1/callback", "com.example.app:/cb"};
  EXPECT_TRUE(redirect_uri_matches(reg, "http://127.0.0.1/callback"));
  EXPECT_TRUE(redirect_uri_matches(reg, "http://127.0.0.1:51234/callback"));
  EXPECT_TRUE(redirect_uri_matches(reg, "com.example.app:/cb"));
  EXPECT_FALSE(redirect_uri_matches(reg, "http://127.0.0.1:51234/other"));
  EXPECT_FALSE(redirect_uri_matches(reg, "http://localhost:51234/callback"));
  EXPECT_FALSE(redirect_uri_matches(reg, "com.example.app:/cb2"));
}

TEST(SsoLocalpartTest, FromClaims) {
  EXPECT_EQ(*SsoService::localpart_from_claim("Alice.Smith@dept.gov.example"), "alice.smith");
  EXPECT_EQ(*SsoService::localpart_from_claim("bob"), "bob");
  for (auto* bad : {"+447700900123", "07700 900123", "", "@dept.gov", "al ice", "ålice"}) {
    auto r = SsoService::localpart_from_claim(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().errcode, "M_INVALID_USERNAME") << bad;
  }
  EXPECT_NE(SsoService::localpart_from_claim("+447700900123").error().message.find("phone"), std::string::npos);
}

}  // namespace
}  // namespace despatch

namespace despatch {
namespace {

Result<Config> load_toml(const std::string& toml) {
  auto dir = std::filesystem::temp_directory_path() / ("oidc-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = (dir / "c.toml").string();
  std::ofstream(path) << toml;
  auto r = load_config_file(path);
  std::filesystem::remove_all(dir);
  return r;
}

TEST(OidcConfig, DefaultsAndChecks) {
  auto off = load_toml("");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->oidc.enabled());
  EXPECT_TRUE(off->login.password_for_sso_users);
  auto on = load_toml("[oidc]\nissuer = \"https://idp.example.gov/realms/dept\"\nclient_id = \"despatch\"\n"
                      "client_secret_file = \"/etc/despatch/secret\"\n[login]\npassword_for_sso_users = false\n");
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_EQ(on->oidc.scopes, (std::vector<std::string>{"openid", "profile", "email"}));
  EXPECT_EQ(on->oidc.localpart_claim, "preferred_username");
  EXPECT_EQ(on->oidc.display_name_claim, "name");
  EXPECT_EQ(on->oidc.access_token_seconds, 300);
  EXPECT_FALSE(on->login.password_for_sso_users);
  const std::string rest = "client_id = \"d\"\nclient_secret_file = \"/s\"\n";
  EXPECT_TRUE(load_toml("[oidc]\nissuer = \"http://127.0.0.1:9000\"\n" + rest).ok());
  EXPECT_TRUE(load_toml("[oidc]\nissuer = \"http://localhost:9000/x\"\n" + rest).ok());
  for (auto* bad : {"issuer = \"http://idp.example.gov\"\n", "issuer = \"http://127.0.0.1.evil.example\"\n",
                    "issuer = \"ftp://idp\"\n"}) {
    auto r = load_toml(std::string("[oidc]\n") + bad + rest);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("oidc.issuer"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(load_toml("[oidc]\nissuer = \"https://idp\"\nclient_secret_file = \"/s\"\n").ok());
  EXPECT_FALSE(load_toml("[oidc]\nissuer = \"https://idp\"\n" + rest + "scopes = [\"profile\"]\n").ok());
  EXPECT_FALSE(load_toml("[oidc]\nissuer = \"https://idp\"\n" + rest + "access_token_seconds = 0\n").ok());
  EXPECT_FALSE(load_toml("[oidc]\nissuer = \"https://idp\"\n" + rest + "client_secret = \"inline\"\n").ok());
}

}  // namespace
}  // namespace despatch
