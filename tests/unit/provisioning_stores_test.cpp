// The stores behind leavers and provisioning against a real SQLite database: account flags
// reach the token owner, the admin listing pages and filters, the account changes log is read
// in order and marked done once, SCIM names compare case-insensitively, registration tokens
// stop at their use limit and expiry.
#include "storage/account_change_store.h"
#include "storage/database.h"
#include "storage/registration_token_store.h"
#include "storage/scim_store.h"
#include "storage/user_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

namespace despatch::storage {
namespace {

class ProvisioningStoresTest : public test::StoreTest {
 protected:
  static UserAccount account(const std::string& id, const std::string& name) {
    UserAccount a;
    a.user_id = id;
    a.password_hash = "h";
    a.created_ts = 1;
    a.profile.displayname = name;
    return a;
  }
};

TEST_F(ProvisioningStoresTest, LockAndSuspensionReachTheTokenOwner) {
  write([](Txn& t) -> Status {
    DS_TRY(t.users().create(account("@a:x", "Alice")));
    DS_TRY(t.users().add_token("tok", "@a:x", "D1", 1));
    DS_TRY(t.users().set_locked("@a:x", true));
    return t.users().set_suspended("@a:x", true);
  });
  auto owner = *read().users().token_owner("tok");
  ASSERT_TRUE(owner.has_value());
  EXPECT_TRUE(owner->locked);
  EXPECT_TRUE(owner->suspended);
  EXPECT_TRUE(*read().users().has_token("@a:x", "D1"));
  EXPECT_FALSE(*read().users().has_token("@a:x", "D2"));
  write([](Txn& t) -> Status {
    DS_TRY(t.users().set_locked("@a:x", false));
    return t.users().remove_all_tokens("@a:x");
  });
  EXPECT_FALSE((*read().users().account("@a:x"))->locked);
  EXPECT_TRUE((*read().users().account("@a:x"))->suspended);
  EXPECT_FALSE(*read().users().has_token("@a:x", "D1"));
}

TEST_F(ProvisioningStoresTest, TheAdminListingPagesAndFilters) {
  write([](Txn& t) -> Status {
    for (const char* id : {"@a:x", "@b:x", "@c:x", "@d:x"}) DS_TRY(t.users().create(account(id, std::string("N") + id)));
    DS_TRY(t.users().set_admin("@b:x", true));
    return t.users().deactivate("@c:x", false);
  });
  UserQuery q;
  q.limit = 2;
  auto page = *read().users().list(q);
  EXPECT_EQ(page.total, 3);  // @c:x is deactivated
  ASSERT_EQ(page.users.size(), 2u);
  EXPECT_EQ(page.users[0].user_id, "@a:x");
  q.from = 2;
  EXPECT_EQ(read().users().list(q)->users[0].user_id, "@d:x");
  UserQuery all;
  all.include_deactivated = true;
  EXPECT_EQ(read().users().list(all)->total, 4);
  UserQuery admins;
  admins.admins_only = true;
  EXPECT_EQ(read().users().list(admins)->users.at(0).user_id, "@b:x");
  UserQuery named;
  named.name = "N@d";  // display names match too; LIKE's wildcards are literal
  EXPECT_EQ(read().users().list(named)->total, 1);
  named.name = "%";
  EXPECT_EQ(read().users().list(named)->total, 0);
}

TEST_F(ProvisioningStoresTest, TheAccountChangesLogIsReadInOrderAndDoneOnce) {
  int64_t first = 0, second = 0;
  write([&](Txn& t) -> Status {
    AccountChange c{0, "@a:x", "deactivate", "cli:ops", "{}", 10, std::nullopt};
    DS_ASSIGN(first, t.account_changes().append(c));
    c.action = "lock";
    c.done_ts = 11;
    DS_ASSIGN(second, t.account_changes().append(c));
    return ok_status();
  });
  EXPECT_LT(first, second);
  EXPECT_EQ(*read().account_changes().last_seq(), second);
  auto after = *read().account_changes().after(0, 10);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].action, "deactivate");
  EXPECT_EQ(read().account_changes().after(first, 10)->size(), 1u);
  auto pending = *read().account_changes().pending(10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].seq, first);
  write([&](Txn& t) -> Status { return t.account_changes().mark_done(first, 20); });
  write([&](Txn& t) -> Status { return t.account_changes().mark_done(first, 30); });  // the first time stays
  EXPECT_TRUE(read().account_changes().pending(10)->empty());
  EXPECT_EQ(read().account_changes().after(0, 10)->at(0).done_ts, 20);
}

TEST_F(ProvisioningStoresTest, ScimNamesCompareCaseInsensitively) {
  write([](Txn& t) -> Status {
    ScimUser u;
    u.id = "u1";
    u.user_id = "@bjensen:x";
    u.user_name = "bjensen";
    u.display_name = "Barbara Jensen";
    u.external_id = "EXT";
    DS_TRY(t.scim().put_user(u));
    ScimGroup g;
    g.id = "g1";
    g.display_name = "Finance";
    DS_TRY(t.scim().put_group(g));
    DS_TRY(t.scim().add_member("g1", "u1"));
    return t.scim().set_group_rooms("FINANCE", {"!r1:x", "!r2:x"});
  });
  auto& s = read().scim();
  EXPECT_TRUE(s.user_by_name("BJensen")->has_value());
  EXPECT_EQ(s.users(ScimField::kDisplayName, "barbara jensen")->size(), 1u);
  EXPECT_EQ(s.users(ScimField::kExternalId, "ext")->size(), 0u);  // externalId is case-exact
  EXPECT_EQ(s.users(ScimField::kActive, "true")->size(), 1u);
  EXPECT_EQ(*s.groups_of("u1"), std::vector<std::string>{"g1"});
  EXPECT_EQ(s.group_rooms("finance")->size(), 2u);
  write([](Txn& t) -> Status { return t.scim().delete_user("u1"); });
  EXPECT_TRUE(read().scim().members("g1")->empty());
}

TEST_F(ProvisioningStoresTest, RegistrationTokensStopAtTheirLimitAndExpiry) {
  write([](Txn& t) -> Status {
    DS_TRY(t.registration_tokens().add({"once", 1, 0, 0, std::nullopt}));
    DS_TRY(t.registration_tokens().add({"until", std::nullopt, 0, 0, 100}));
    DS_ASSIGN(bool dup, t.registration_tokens().add({"once", 5, 0, 0, std::nullopt}));
    EXPECT_FALSE(dup);
    return ok_status();
  });
  auto use = [&](const std::string& token, int64_t now) {
    auto r = db_->transact_blocking<bool>([&](Txn& t) { return t.registration_tokens().use(token, now); });
    return r.ok() && *r;
  };
  EXPECT_TRUE(use("once", 1));
  EXPECT_FALSE(use("once", 1));
  EXPECT_TRUE(use("until", 99));
  EXPECT_FALSE(use("until", 100));
  EXPECT_FALSE(use("nosuch", 1));
  EXPECT_EQ((*read().registration_tokens().get("once"))->completed, 1);
}

}  // namespace
}  // namespace despatch::storage
