#include "core/crypto.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/canonical_json.h"

namespace despatch {
namespace {

// appendices.md "Cryptographic Test Vectors": seed, server name and key ID.
constexpr std::string_view kSpecSeedBase64 = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";

SigningKey spec_key() {
  auto seed = base64_decode(kSpecSeedBase64);
  EXPECT_TRUE(seed && seed->size() == 32);
  auto key = SigningKey::from_seed(*seed, "1");
  EXPECT_TRUE(key.ok());
  return *key;
}

json::object parse_object(std::string_view text) { return parse_strict_json(text)->as_object(); }

TEST(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(base64_encode(sha256("")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  EXPECT_EQ(base64_encode(sha256("abc")), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
  EXPECT_EQ(sha256("abc").size(), 32u);
}

TEST(CryptoTest, SpecSigningKeyIdentity) {
  SigningKey key = spec_key();
  EXPECT_EQ(key.key_id(), "ed25519:1");
  EXPECT_EQ(key.version(), "1");
  EXPECT_EQ(key.seed(), *base64_decode(kSpecSeedBase64));
  EXPECT_EQ(key.public_key().size(), 32u);
  EXPECT_EQ(key.public_key_base64(), base64_encode(key.public_key()));
}

TEST(CryptoTest, SignsEmptyObjectLikeSpec) {
  json::object obj;
  sign_json(obj, "domain", spec_key());
  EXPECT_EQ(json::value(obj), json::value(parse_object(R"({
    "signatures": {
        "domain": {
            "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ah)"
                                                       R"(LwYGYZzuHGZKM5ZAQ"
        }
    }
})")));
}

TEST(CryptoTest, SignsObjectWithDataLikeSpec) {
  json::object obj = parse_object(R"({"one": 1, "two": "Two"})");
  sign_json(obj, "domain", spec_key());
  EXPECT_EQ(canonical_json(obj),
            R"({"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpI)"
            R"(RA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"})");
}

TEST(CryptoTest, SigningIgnoresAndKeepsUnsignedAndOtherSignatures) {
  json::object obj = parse_object(R"({"one": 1, "two": "Two", "unsigned": {"age_ts": 5},
      "signatures": {"other.org": {"ed25519:x": "abc"}, "domain": {"ed25519:0": "old"}}})");
  sign_json(obj, "domain", spec_key());
  // Same signature as without unsigned/signatures: neither is covered.
  EXPECT_EQ(
      obj.at("signatures").at("domain").at("ed25519:1").as_string(),
      "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw");
  EXPECT_EQ(obj.at("signatures").at("domain").at("ed25519:0").as_string(), "old");
  EXPECT_EQ(obj.at("signatures").at("other.org").at("ed25519:x").as_string(), "abc");
  EXPECT_EQ(obj.at("unsigned").at("age_ts").as_int64(), 5);
}

TEST(CryptoTest, VerifyJsonAcceptsValidAndRejectsTampered) {
  SigningKey key = spec_key();
  json::object obj = parse_object(R"({"one": 1, "two": "Two"})");
  sign_json(obj, "domain", key);
  EXPECT_TRUE(verify_json(obj, "domain", "ed25519:1", key.public_key()).ok());

  // Unsigned data may change in transit without breaking the signature.
  obj["unsigned"] = json::object{{"age", 10}};
  EXPECT_TRUE(verify_json(obj, "domain", "ed25519:1", key.public_key()).ok());

  json::object tampered = obj;
  tampered["two"] = "Three";
  auto r = verify_json(tampered, "domain", "ed25519:1", key.public_key());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(r.error().status, 403);

  EXPECT_FALSE(verify_json(obj, "other", "ed25519:1", key.public_key()).ok());
  EXPECT_FALSE(verify_json(obj, "domain", "ed25519:2", key.public_key()).ok());
  SigningKey other = SigningKey::generate("1");
  EXPECT_FALSE(verify_json(obj, "domain", "ed25519:1", other.public_key()).ok());
  EXPECT_FALSE(verify_json(obj, "domain", "ed25519:1", "short").ok());

  json::object bad_b64 = obj;
  bad_b64["signatures"].as_object()["domain"].as_object()["ed25519:1"] = "!!!";
  EXPECT_FALSE(verify_json(bad_b64, "domain", "ed25519:1", key.public_key()).ok());
  json::object no_sigs = parse_object(R"({"one": 1})");
  EXPECT_FALSE(verify_json(no_sigs, "domain", "ed25519:1", key.public_key()).ok());
}

TEST(CryptoTest, GeneratedKeysRoundTripThroughSeed) {
  SigningKey a = SigningKey::generate("abc");
  SigningKey b = SigningKey::generate("abc");
  EXPECT_NE(a.seed(), b.seed());
  EXPECT_NE(a.public_key(), b.public_key());
  EXPECT_EQ(a.key_id(), "ed25519:abc");

  auto restored = SigningKey::from_seed(a.seed(), "abc");
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->public_key(), a.public_key());
  // ed25519 is deterministic, so the restored key signs identically.
  EXPECT_EQ(restored->sign("hello"), a.sign("hello"));
}

TEST(CryptoTest, RawSignAndVerify) {
  SigningKey key = SigningKey::generate("k");
  std::string sig = key.sign("message");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(ed25519_verify(key.public_key(), "message", sig));
  EXPECT_FALSE(ed25519_verify(key.public_key(), "messagf", sig));
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(ed25519_verify(key.public_key(), "message", flipped));
  EXPECT_FALSE(ed25519_verify(key.public_key(), "message", sig.substr(0, 63)));
  EXPECT_FALSE(ed25519_verify(key.public_key().substr(0, 31), "message", sig));
}

TEST(CryptoTest, FromSeedRejectsWrongLength) {
  auto r = SigningKey::from_seed("too short", "1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errcode, "M_INVALID_PARAM");
  EXPECT_FALSE(SigningKey::from_seed(std::string(33, 'x'), "1").ok());
}

}  // namespace
}  // namespace despatch
