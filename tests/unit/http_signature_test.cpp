// HTTP Signatures (draft-cavage with rsa-sha256 and Digest): a signed request verifies, and
// every tampering (body, covered header, target, key, stale date) is refused; the header
// parser takes what Mastodon sends and refuses what is malformed.
#include "core/http_signature.h"

#include <gtest/gtest.h>

#include <ctime>

namespace despatch {
namespace {

class HttpSignatureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = RsaKeyPair::generate(2048), b = RsaKeyPair::generate(2048);
    ASSERT_TRUE(a.ok() && b.ok());
    key_ = new RsaKeyPair(*a);
    other_ = new RsaKeyPair(*b);
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_;
  }
  std::map<std::string, std::string> signed_post(const std::string& body) {
    std::map<std::string, std::string> h{{"host", "dept.example"}, {"content-type", "application/activity+json"}};
    EXPECT_TRUE(sign_request(h, "POST", "/ap/users/news/inbox", body, "https://f.example/u#k", key_->private_pem).ok());
    return h;
  }
  Status check(const std::map<std::string, std::string>& h, const std::string& body,
               const std::string& target = "/ap/users/news/inbox", const RsaKeyPair* key = nullptr) {
    auto sig = parse_signature_header(h.at("signature"));
    if (!sig.ok()) return sig.error();
    return verify_request(*sig, "POST", target, h, body, (key ? key : key_)->public_pem, std::time(nullptr));
  }
  static RsaKeyPair* key_;
  static RsaKeyPair* other_;
};
RsaKeyPair* HttpSignatureTest::key_ = nullptr;
RsaKeyPair* HttpSignatureTest::other_ = nullptr;

TEST_F(HttpSignatureTest, SignedRequestVerifies) {
  auto h = signed_post("{\"type\":\"Follow\"}");
  EXPECT_EQ(h.at("digest"), digest_header("{\"type\":\"Follow\"}"));
  auto sig = parse_signature_header(h.at("signature"));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->key_id, "https://f.example/u#k");
  EXPECT_EQ(sig->headers, (std::vector<std::string>{"(request-target)", "host", "date", "digest", "content-type"}));
  Status st = check(h, "{\"type\":\"Follow\"}");
  EXPECT_TRUE(st.ok()) << st.error().message;
}

TEST_F(HttpSignatureTest, TamperingIsRefused) {
  const std::string body = "{\"type\":\"Follow\"}";
  auto h = signed_post(body);
  EXPECT_EQ(check(h, "{\"type\":\"Undo\"}").error().status, 401);  // body: Digest no longer matches
  auto forged = h;
  forged["digest"] = digest_header("{\"type\":\"Undo\"}");
  EXPECT_FALSE(check(forged, "{\"type\":\"Undo\"}").ok());  // digest changed: signature breaks
  auto moved = h;
  moved["host"] = "other.example";
  EXPECT_FALSE(check(moved, body).ok());
  EXPECT_FALSE(check(h, body, "/ap/inbox").ok());
  EXPECT_FALSE(check(h, body, "/ap/users/news/inbox", other_).ok());
  auto stale = h;
  stale["date"] = http_date(std::time(nullptr) - 7200);
  EXPECT_FALSE(check(stale, body).ok());
}

TEST_F(HttpSignatureTest, SignatureMustCoverTheEssentials) {
  const std::string body = "{}";
  auto h = signed_post(body);
  std::string text = *signing_string({"date"}, "POST", "/ap/users/news/inbox", h);
  std::string sig = *rsa_sha256_sign(key_->private_pem, text);
  SignatureHeader only_date{"https://f.example/u#k", "rsa-sha256", {"date"}, sig};
  EXPECT_FALSE(verify_request(only_date, "POST", "/ap/users/news/inbox", h, body, key_->public_pem, std::time(nullptr)).ok());
}

TEST(SignatureHeader, ParsesAndRefuses) {
  auto s = parse_signature_header(
      "keyId=\"https://m.example/users/a#main-key\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\","
      "signature=\"c2lnbmF0dXJl\"");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signature, "signature");
  EXPECT_EQ(s->headers.size(), 4u);
  auto no_headers = parse_signature_header("keyId=\"k\",signature=\"c2ln\"");
  ASSERT_TRUE(no_headers.ok());
  EXPECT_EQ(no_headers->headers, std::vector<std::string>{"date"});
  EXPECT_FALSE(parse_signature_header("").ok());
  EXPECT_FALSE(parse_signature_header("keyId=\"k\"").ok());
  EXPECT_FALSE(parse_signature_header("keyId=\"k\",signature=\"c2ln").ok());
  EXPECT_FALSE(parse_signature_header("keyId=k,signature=\"c2ln\"").ok());
  EXPECT_FALSE(parse_signature_header("keyId=\"k\",signature=\"***\"").ok());
  EXPECT_FALSE(parse_signature_header("keyId=\"k\",algorithm=\"hmac-sha256\",signature=\"c2ln\"").ok());
}

TEST(Digest, IsPaddedBase64) {
  // What every other implementation sends: RFC 4648 base64 with its padding.
  EXPECT_EQ(digest_header("hello"), "SHA-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
}

TEST(HttpDate, RoundTrips) {
  EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("yesterday"), -1);
}

TEST(RsaKeyPair, PublicHalfFromPrivate) {
  auto k = RsaKeyPair::generate(2048);
  ASSERT_TRUE(k.ok());
  auto again = RsaKeyPair::from_private_pem(k->private_pem);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_pem, k->public_pem);
  EXPECT_NE(k->public_pem.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_FALSE(rsa_sha256_verify("not a key", "x", "y").ok());
}

}  // namespace
}  // namespace despatch
