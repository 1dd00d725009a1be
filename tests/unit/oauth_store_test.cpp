// OAuthStore against a real SQLite database: codes and login tokens are single use, refresh
// tokens record their rotation and end with their device, identities map to accounts, and
// access tokens carry their expiry.
#include "storage/oauth_store.h"

#include "storage/user_store.h"
#include "store_fixture.h"

namespace despatch {
namespace {

using storage::Txn;

class OAuthStoreTest : public test::StoreTest {};

TEST_F(OAuthStoreTest, CodesAreTakenOnce) {
  storage::OAuthCode c{"hash", "client", "http://127.0.0.1/cb", "urn:matrix:client:api:*", "DEV", "@a:x", "chal", 1000};
  write([&](Txn& t) -> Status { return t.oauth().add_code(c); });
  std::optional<storage::OAuthCode> first, second;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(first, t.oauth().take_code("hash"));
    DS_ASSIGN(second, t.oauth().take_code("hash"));
    return ok_status();
  });
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->device_id, "DEV");
  EXPECT_EQ(first->code_challenge, "chal");
  EXPECT_EQ(first->expires_ts, 1000);
  EXPECT_FALSE(second.has_value());
}

TEST_F(OAuthStoreTest, LoginTokensAreTakenOnceAndExpiredOnesRemoved) {
  write([](Txn& t) -> Status {
    DS_TRY(t.oauth().add_login_token("old", "@a:x", 100));
    DS_TRY(t.oauth().add_login_token("new", "@b:x", 5000));
    return t.oauth().remove_expired(1000);
  });
  std::optional<std::pair<std::string, int64_t>> old_tok, new_tok, again;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(old_tok, t.oauth().take_login_token("old"));
    DS_ASSIGN(new_tok, t.oauth().take_login_token("new"));
    DS_ASSIGN(again, t.oauth().take_login_token("new"));
    return ok_status();
  });
  EXPECT_FALSE(old_tok.has_value());
  ASSERT_TRUE(new_tok.has_value());
  EXPECT_EQ(new_tok->first, "@b:x");
  EXPECT_FALSE(again.has_value());
}

TEST_F(OAuthStoreTest, RefreshTokensRotateAndEndWithTheirDevice) {
  write([](Txn& t) -> Status {
    DS_TRY(t.oauth().add_refresh_token({"r1", "@a:x", "D1", "c", "s", 1, std::nullopt}));
    DS_TRY(t.oauth().add_refresh_token({"r2", "@a:x", "D1", "c", "s", 2, std::nullopt}));
    DS_TRY(t.oauth().add_refresh_token({"other", "@a:x", "D2", "c", "s", 3, std::nullopt}));
    return t.oauth().set_replaced_by("r1", "r2");
  });
  auto& s = read().oauth();
  auto r1 = *s.refresh_token("r1");
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->replaced_by, std::optional<std::string>("r2"));
  EXPECT_FALSE((*s.refresh_token("r2"))->replaced_by.has_value());
  // r0 -> r1 -> r2: using r2's predecessor r1 again keeps r1 but drops r0.
  write([](Txn& t) -> Status {
    DS_TRY(t.oauth().add_refresh_token({"r0", "@a:x", "D1", "c", "s", 0, std::nullopt}));
    DS_TRY(t.oauth().set_replaced_by("r0", "r1"));
    return t.oauth().remove_older_generations("r2");
  });
  EXPECT_FALSE(s.refresh_token("r0")->has_value());
  EXPECT_TRUE(s.refresh_token("r1")->has_value());
  write([](Txn& t) -> Status { return t.oauth().remove_refresh_tokens("@a:x", "D1"); });
  EXPECT_FALSE(s.refresh_token("r1")->has_value());
  EXPECT_FALSE(s.refresh_token("r2")->has_value());
  EXPECT_TRUE(s.refresh_token("other")->has_value());
}

TEST_F(OAuthStoreTest, IdentitiesClientsAndTokenExpiry) {
  write([](Txn& t) -> Status {
    storage::UserAccount a;
    a.user_id = "@a:x";
    DS_TRY(t.users().create(a));
    DS_TRY(t.users().add_token("tok", "@a:x", "D1", 1));
    DS_TRY(t.users().add_token("forever", "@a:x", "D2", 1));
    DS_TRY(t.users().set_token_expiry("tok", 12345));
    DS_TRY(t.oauth().add_identity("https://idp", "sub-1", "@a:x", 1));
    return t.oauth().add_client({"cid", R"({"client_uri":"https://c.example/"})", 1});
  });
  auto& s = read();
  EXPECT_EQ(*s.oauth().identity_user("https://idp", "sub-1"), std::optional<std::string>("@a:x"));
  EXPECT_FALSE(s.oauth().identity_user("https://other", "sub-1")->has_value());
  EXPECT_TRUE(*s.oauth().is_sso_user("@a:x"));
  EXPECT_FALSE(*s.oauth().is_sso_user("@b:x"));
  EXPECT_EQ((*s.oauth().client("cid"))->metadata, R"({"client_uri":"https://c.example/"})");
  EXPECT_FALSE(s.oauth().client("nope")->has_value());
  EXPECT_EQ((*s.users().token_owner("tok"))->expires_ts, 12345);
  EXPECT_EQ((*s.users().token_owner("forever"))->expires_ts, 0);
  // The same identity twice is refused by the table.
  auto dup = db_->transact_blocking<Ok>([](Txn& t) -> Result<Ok> { return t.oauth().add_identity("https://idp", "sub-1", "@c:x", 2); });
  EXPECT_FALSE(dup.ok());
}

}  // namespace
}  // namespace despatch
