// ServerKeyStore against a real SQLite database: keys by server and key ID, old keys kept
// with their expiry, and each server's last key response replaced as a whole.
#include "storage/database.h"
#include "storage/server_key_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

#include "test_support.h"

#include <filesystem>

namespace despatch::storage {
namespace {

class ServerKeyStoreTest : public test::StoreTest {
 protected:
};

TEST_F(ServerKeyStoreTest, KeysByServerAndId) {
  write([](Txn& t) -> Status {
    DS_TRY(t.server_keys().put_key({"a.org", "ed25519:2", "KEY2", 2000, std::nullopt, 10}));
    DS_TRY(t.server_keys().put_key({"a.org", "ed25519:1", "KEY1", 1000, int64_t{500}, 10}));
    return t.server_keys().put_key({"b.org", "ed25519:1", "OTHER", 3000, std::nullopt, 11});
  });
  auto& s = db_->read().server_keys();
  auto k = s.key("a.org", "ed25519:1");
  ASSERT_TRUE(k.ok() && k->has_value());
  EXPECT_EQ((*k)->key, "KEY1");
  EXPECT_EQ((*k)->expired_ts, 500);
  EXPECT_EQ((*k)->valid_until_ts, 1000);
  auto cur = s.key("a.org", "ed25519:2");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_FALSE((*cur)->expired_ts.has_value());
  EXPECT_FALSE(s.key("a.org", "ed25519:3")->has_value());
  EXPECT_FALSE(s.key("c.org", "ed25519:1")->has_value());
  auto all = s.keys_of("a.org");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key_id, "ed25519:1");
  EXPECT_EQ((*all)[1].key_id, "ed25519:2");
  EXPECT_TRUE(s.keys_of("nobody.org")->empty());
}

TEST_F(ServerKeyStoreTest, PutReplacesAKeyAndCanRetireIt) {
  write([](Txn& t) { return t.server_keys().put_key({"a.org", "ed25519:1", "KEY1", 1000, std::nullopt, 10}); });
  write([](Txn& t) { return t.server_keys().put_key({"a.org", "ed25519:1", "KEY1", 5000, int64_t{4000}, 20}); });
  auto k = db_->read().server_keys().key("a.org", "ed25519:1");
  ASSERT_TRUE(k.ok() && k->has_value());
  EXPECT_EQ((*k)->valid_until_ts, 5000);
  EXPECT_EQ((*k)->expired_ts, 4000);
  EXPECT_EQ((*k)->fetched_ts, 20);
  EXPECT_EQ(db_->read().server_keys().keys_of("a.org")->size(), 1u);
}

TEST_F(ServerKeyStoreTest, LastResponsePerServer) {
  EXPECT_FALSE(db_->read().server_keys().response("a.org")->has_value());
  write([](Txn& t) { return t.server_keys().put_response({"a.org", R"({"v":1})", 1000, 1}); });
  write([](Txn& t) { return t.server_keys().put_response({"a.org", R"({"v":2})", 2000, 2}); });
  auto r = db_->read().server_keys().response("a.org");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->json, R"({"v":2})");
  EXPECT_EQ((*r)->valid_until_ts, 2000);
  EXPECT_EQ((*r)->fetched_ts, 2);
  EXPECT_FALSE(db_->read().server_keys().response("b.org")->has_value());
}

TEST_F(ServerKeyStoreTest, KeysSurviveReopening) {
  write([](Txn& t) { return t.server_keys().put_key({"a.org", "ed25519:1", "KEY1", 1000, std::nullopt, 10}); });
  db_.reset();
  auto db = Database::open_sqlite(dir_.string());
  ASSERT_TRUE(db.ok());
  db_ = std::move(db).value();
  EXPECT_TRUE(db_->read().server_keys().key("a.org", "ed25519:1")->has_value());
}

}  // namespace
}  // namespace despatch::storage
