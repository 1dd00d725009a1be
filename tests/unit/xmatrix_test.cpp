// The X-Matrix Authorization header: parsing what real servers send (and what the RFC 9110
// syntax allows), refusing what is ambiguous or broken, and signing and checking requests.
#include "core/xmatrix.h"

#include "core/base64.h"
#include "core/canonical_json.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

SigningKey test_key(std::string version = "k1") {
  auto key = SigningKey::from_seed(std::string(32, '\x07'), std::move(version));
  EXPECT_TRUE(key.ok());
  return *key;
}

TEST(XMatrixParse, SpecExample) {
  auto a = parse_xmatrix(
      "X-Matrix origin=\"origin.hs.example.com\",destination=\"destination.hs.example.com\","
      "key=\"ed25519:key1\",sig=\"ABCDEF\"");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->origin, "origin.hs.example.com");
  EXPECT_EQ(a->destination, "destination.hs.example.com");
  EXPECT_EQ(a->key, "ed25519:key1");
  EXPECT_EQ(a->sig, "ABCDEF");
}

TEST(XMatrixParse, LenientSyntax) {
  // Case-insensitive scheme and names, several spaces after the scheme, spaces and tabs
  // around commas and '=', any order, unquoted values with colons, unknown parameters.
  auto a = parse_xmatrix("x-matrix   KEY = ed25519:a_1 ,\tSig=\"AAAA\" , extra=\"x,y\", Origin=127.0.0.1:8448");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->origin, "127.0.0.1:8448");
  EXPECT_FALSE(a->destination.has_value());
  EXPECT_EQ(a->key, "ed25519:a_1");
  EXPECT_EQ(a->sig, "AAAA");
}

TEST(XMatrixParse, QuotedValuesAreUnescaped) {
  auto a = parse_xmatrix(R"(X-Matrix origin="ex\ample.org",key="ed25519:1",sig="AB\CD")");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->origin, "example.org");
  EXPECT_EQ(a->sig, "ABCD");
}

TEST(XMatrixParse, IPv6OriginAndBase64Unquoted) {
  auto a = parse_xmatrix("X-Matrix origin=[::1]:8448,key=ed25519:1,sig=ab+/cd==");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->origin, "[::1]:8448");
  EXPECT_EQ(a->sig, "ab+/cd==");
}

TEST(XMatrixParse, RefusesBrokenHeaders) {
  const char* bad[] = {
      "",
      "Bearer abc",
      "X-Matrixorigin=a.org,key=ed25519:1,sig=AAAA",             // no space after the scheme
      "X-Matrix",                                                // no parameters
      "X-Matrix key=ed25519:1,sig=AAAA",                         // no origin
      "X-Matrix origin=a.org,sig=AAAA",                          // no key
      "X-Matrix origin=a.org,key=ed25519:1",                     // no sig
      "X-Matrix origin=a.org,origin=b.org,key=ed25519:1,sig=AAAA",  // ambiguous
      "X-Matrix origin=a.org,key=ed25519:1,sig=AAAA,signature=BBBB",
      "X-Matrix origin=\"a.org,key=ed25519:1,sig=AAAA",          // unterminated quote
      "X-Matrix origin=a.org key=ed25519:1,sig=AAAA",            // missing comma
      "X-Matrix origin,key=ed25519:1,sig=AAAA",                  // no '='
      "X-Matrix origin=not_a_server!,key=ed25519:1,sig=AAAA",
      "X-Matrix origin=a.org,destination=\"bad name\",key=ed25519:1,sig=AAAA",
      "X-Matrix origin=a.org,key=rsa:1,sig=AAAA",                // not an ed25519 key ID
      "X-Matrix origin=a.org,key=ed25519:,sig=AAAA",
      "X-Matrix origin=a.org,key=ed25519:1,sig=\"\"",
      "X-Matrix origin=a.org,key=ed25519:1,sig=\"not base64!\"",
      "X-Matrix origin=a.org\n,key=ed25519:1,sig=AAAA",          // control character
      "X-Matrix origin=127.0.0.1:84448,key=ed25519:1,sig=AAAA",  // five digits, but no port (found by fuzzing)
      "X-Matrix origin=a.org,destination=a.org:0,key=ed25519:1,sig=AAAA",
  };
  for (const char* h : bad) {
    auto a = parse_xmatrix(h);
    EXPECT_FALSE(a.ok()) << h;
    if (!a.ok()) {
      EXPECT_EQ(a.error().status, 401) << h;
      EXPECT_EQ(a.error().errcode, errc::kUnauthorized) << h;
    }
  }
  EXPECT_FALSE(parse_xmatrix("X-Matrix origin=a.org,key=ed25519:1,sig=" + std::string(5000, 'A')).ok());
}

TEST(XMatrixParse, EmptyListElementsAreSkipped) {
  auto a = parse_xmatrix("X-Matrix ,origin=a.org,,key=ed25519:1, ,sig=AAAA,");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->origin, "a.org");
}

TEST(XMatrixSign, SignedObjectMatchesTheSpec) {
  json::value content = json::object{{"a", 1}};
  auto o = xmatrix_signed_object("POST", "/target?x=1", "o.org", "d.org", &content);
  EXPECT_EQ(canonical_json(o),
            R"({"content":{"a":1},"destination":"d.org","method":"POST","origin":"o.org","uri":"/target?x=1"})");
  EXPECT_FALSE(xmatrix_signed_object("GET", "/t", "o.org", "d.org", nullptr).contains("content"));
}

TEST(XMatrixSign, SignThenParseThenVerify) {
  SigningKey key = test_key();
  json::value content = json::object{{"pdus", json::array{}}};
  std::string header = sign_xmatrix(key, "origin.org", "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", &content);
  EXPECT_EQ(header.rfind("X-Matrix origin=\"origin.org\",destination=\"dest.org:8448\",key=\"ed25519:k1\",sig=\"", 0), 0u);
  auto a = parse_xmatrix(header);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(verify_xmatrix(*a, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", &content, key.public_key()).ok());

  // Anything else the signature covers, changed, fails with 401.
  json::value other = json::object{{"pdus", json::array{1}}};
  auto st = verify_xmatrix(*a, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", &other, key.public_key());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 401);
  EXPECT_EQ(st.error().errcode, errc::kUnauthorized);
  EXPECT_FALSE(verify_xmatrix(*a, "dest.org:8448", "POST", "/_matrix/federation/v1/send/1", &content, key.public_key()).ok());
  EXPECT_FALSE(verify_xmatrix(*a, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/2", &content, key.public_key()).ok());
  EXPECT_FALSE(verify_xmatrix(*a, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", nullptr, key.public_key()).ok());
  EXPECT_FALSE(verify_xmatrix(*a, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", &content,
                              test_key().public_key().substr(1) + "x").ok());
  XMatrixAuth forged = *a;
  forged.origin = "evil.org";
  EXPECT_FALSE(verify_xmatrix(forged, "dest.org:8448", "PUT", "/_matrix/federation/v1/send/1", &content, key.public_key()).ok());
}

TEST(XMatrixSign, MissingDestinationMeansThisServer) {
  SigningKey key = test_key();
  std::string header = sign_xmatrix(key, "o.org", "me.org", "GET", "/_matrix/federation/v1/version", nullptr);
  auto a = parse_xmatrix(header);
  ASSERT_TRUE(a.ok());
  a->destination.reset();  // as an older server sends it
  EXPECT_TRUE(verify_xmatrix(*a, "me.org", "GET", "/_matrix/federation/v1/version", nullptr, key.public_key()).ok());
  EXPECT_FALSE(verify_xmatrix(*a, "other.org", "GET", "/_matrix/federation/v1/version", nullptr, key.public_key()).ok());
}

}  // namespace
}  // namespace despatch
