// Server keys: this server's published keys (self-signed, rotated keys kept as old keys),
// the checks made on another server's key response before it is trusted, and the limiter
// that keeps refusal audit rows from filling the disk.
#include "service/federation/request_auth.h"
#include "service/federation/server_keys.h"

#include "core/base64.h"
#include "storage/database.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <filesystem>

namespace despatch {
namespace {

SigningKey key_from(char fill, std::string version) {
  auto k = SigningKey::from_seed(std::string(32, fill), std::move(version));
  EXPECT_TRUE(k.ok());
  return *k;
}

// A key response as server `name` would publish it, signed by `key`.
json::object response_of(const std::string& name, const SigningKey& key, int64_t valid_until) {
  json::object o{{"server_name", name},
                 {"verify_keys", json::object{{key.key_id(), json::object{{"key", key.public_key_base64()}}}}},
                 {"old_verify_keys", json::object{}},
                 {"valid_until_ts", valid_until}};
  sign_json(o, name, key);
  return o;
}

TEST(CheckServerKeys, AcceptsASelfSignedResponse) {
  SigningKey k = key_from('a', "k1");
  json::object r = response_of("a.org", k, 5000);
  r["old_verify_keys"] = json::object{{"ed25519:old", json::object{{"key", key_from('b', "old").public_key_base64()},
                                                                    {"expired_ts", 1000}}}};
  sign_json(r, "a.org", k);  // signed again over the old keys
  auto keys = check_server_keys(r, "a.org", 42);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_id, "ed25519:k1");
  EXPECT_EQ((*keys)[0].key, k.public_key_base64());
  EXPECT_EQ((*keys)[0].valid_until_ts, 5000);
  EXPECT_EQ((*keys)[0].fetched_ts, 42);
  EXPECT_FALSE((*keys)[0].expired_ts);
  EXPECT_EQ((*keys)[1].key_id, "ed25519:old");
  EXPECT_EQ((*keys)[1].expired_ts, 1000);
}

TEST(CheckServerKeys, RefusesWhatIsNotTheServersOwn) {
  SigningKey k = key_from('a', "k1");
  // For another server.
  EXPECT_FALSE(check_server_keys(response_of("a.org", k, 5000), "b.org", 1).ok());
  // Tampered after signing.
  json::object tampered = response_of("a.org", k, 5000);
  tampered["valid_until_ts"] = 9999999;
  auto st = check_server_keys(tampered, "a.org", 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 401);
  // Signed by a key it does not list (a third party's signature only).
  json::object other = response_of("a.org", k, 5000);
  other.erase("signatures");
  sign_json(other, "a.org", key_from('c', "k2"));
  EXPECT_FALSE(check_server_keys(other, "a.org", 1).ok());
  // Unsigned.
  json::object unsigned_r = response_of("a.org", k, 5000);
  unsigned_r.erase("signatures");
  EXPECT_FALSE(check_server_keys(unsigned_r, "a.org", 1).ok());
  // Malformed pieces.
  json::object no_until = response_of("a.org", k, 5000);
  no_until.erase("valid_until_ts");
  sign_json(no_until, "a.org", k);
  EXPECT_FALSE(check_server_keys(no_until, "a.org", 1).ok());
  json::object short_key{{"server_name", "a.org"},
                         {"verify_keys", json::object{{"ed25519:k1", json::object{{"key", "AAAA"}}}}},
                         {"valid_until_ts", 5000}};
  sign_json(short_key, "a.org", k);
  EXPECT_FALSE(check_server_keys(short_key, "a.org", 1).ok());
  json::object no_keys{{"server_name", "a.org"}, {"verify_keys", json::object{}}, {"valid_until_ts", 5000}};
  sign_json(no_keys, "a.org", k);
  EXPECT_FALSE(check_server_keys(no_keys, "a.org", 1).ok());
}

TEST(CheckServerKeys, EverySignatureOfAListedKeyMustVerify) {
  SigningKey k1 = key_from('a', "k1"), k2 = key_from('b', "k2");
  json::object r{{"server_name", "a.org"},
                 {"verify_keys", json::object{{"ed25519:k1", json::object{{"key", k1.public_key_base64()}}},
                                              {"ed25519:k2", json::object{{"key", k2.public_key_base64()}}}}},
                 {"valid_until_ts", 5000}};
  sign_json(r, "a.org", k1);
  EXPECT_TRUE(check_server_keys(r, "a.org", 1).ok());  // one of them is enough
  r["signatures"].as_object()["a.org"].as_object()["ed25519:k2"] = base64_encode(std::string(64, 'x'));
  EXPECT_FALSE(check_server_keys(r, "a.org", 1).ok());  // but a bad one spoils it
}

class OwnKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_own_keys_test");
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    config_.server_name = "me.example.gov";
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<storage::Database> db_;
  Config config_;
  FederationMetrics metrics_;
};

TEST_F(OwnKeysTest, PublishedSelfSignedAndCheckable) {
  SigningKey k = key_from('a', "v1");
  FederationSender sender(config_, k, nullptr, metrics_);
  ServerKeys keys(config_, *db_, k, sender, metrics_);
  ASSERT_TRUE(keys.init_blocking().ok());
  json::object own = keys.own_keys(1000);
  EXPECT_EQ(own.at("server_name"), "me.example.gov");
  EXPECT_EQ(own.at("valid_until_ts").as_int64(), 1000 + kOwnKeysValidityMs);
  EXPECT_TRUE(own.at("old_verify_keys").as_object().empty());
  // What another server does with it.
  auto checked = check_server_keys(own, "me.example.gov", 1000);
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(checked->size(), 1u);
}

TEST_F(OwnKeysTest, ARotatedKeyBecomesAnOldKey) {
  SigningKey first = key_from('a', "v1"), second = key_from('b', "v2");
  {
    FederationSender sender(config_, first, nullptr, metrics_);
    ServerKeys keys(config_, *db_, first, sender, metrics_);
    ASSERT_TRUE(keys.init_blocking().ok());
  }
  FederationSender sender(config_, second, nullptr, metrics_);
  ServerKeys keys(config_, *db_, second, sender, metrics_);
  ASSERT_TRUE(keys.init_blocking().ok());
  ASSERT_TRUE(keys.init_blocking().ok());  // a second start with the same key changes nothing
  json::object own = keys.own_keys(5000);
  ASSERT_TRUE(own.at("verify_keys").as_object().contains("ed25519:v2"));
  EXPECT_FALSE(own.at("verify_keys").as_object().contains("ed25519:v1"));
  const auto& old = own.at("old_verify_keys").as_object();
  ASSERT_TRUE(old.contains("ed25519:v1"));
  EXPECT_EQ(old.at("ed25519:v1").at("key").as_string(), first.public_key_base64());
  EXPECT_TRUE(old.at("ed25519:v1").at("expired_ts").is_int64());
  EXPECT_TRUE(check_server_keys(own, "me.example.gov", 5000).ok());
}

TEST(RefusalAuditLimiter, OneRowPerOriginPerMinuteCountingTheRest) {
  RefusalAuditLimiter l;
  EXPECT_EQ(l.admit("a.org", 1'000'000), 0);
  EXPECT_FALSE(l.admit("a.org", 1'000'001));
  EXPECT_FALSE(l.admit("a.org", 1'059'999));
  EXPECT_EQ(l.admit("b.org", 1'000'002), 0);  // origins are limited apart
  EXPECT_EQ(l.admit("a.org", 1'060'000), 2);  // the next row stands for the two not written
  EXPECT_FALSE(l.admit("a.org", 1'060'001));
}

TEST(RefusalAuditLimiter, ManyOriginsCannotWriteMoreThanTheGlobalCap) {
  RefusalAuditLimiter l;
  int rows = 0;
  for (int i = 0; i < 10'000; ++i)
    if (l.admit("o" + std::to_string(i) + ".org", 5'000'000 + i)) ++rows;
  EXPECT_EQ(rows, RefusalAuditLimiter::kMaxRowsPerMinute);
  int later = 0;
  for (int i = 0; i < 200; ++i)
    if (l.admit("n" + std::to_string(i) + ".org", 5'070'000 + i)) ++later;
  EXPECT_LE(later, RefusalAuditLimiter::kMaxRowsPerMinute);
  EXPECT_GE(later, 1);
}

}  // namespace
}  // namespace despatch
