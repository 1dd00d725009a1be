// The users, devices, meta and media stores against a real SQLite database: what a write
// transaction stores, a read view returns, with the rules the services rely on (tokens end
// with their device, erasure sticks, directory search takes its term literally, a pending
// upload completes once, a file is in use while any row names it).
#include "storage/database.h"
#include "storage/device_store.h"
#include "storage/media_store.h"
#include "storage/membership_store.h"
#include "storage/meta_store.h"
#include "storage/user_store.h"

#include <gtest/gtest.h>

#include "store_fixture.h"

#include "test_support.h"

#include <algorithm>

namespace despatch::storage {
namespace {

class UserMediaStoresTest : public test::StoreTest {
 protected:
  static UserAccount account(const std::string& id, std::optional<std::string> name = std::nullopt) {
    UserAccount a;
    a.user_id = id;
    a.password_hash = "hash-of-" + id;
    a.created_ts = 1000;
    a.profile.displayname = std::move(name);
    return a;
  }
};

TEST_F(UserMediaStoresTest, AccountsKeepTheirFieldsAndDeactivationDropsThePassword) {
  write([](Txn& t) -> Status {
    UserAccount admin = account("@admin:x", "Admin");
    admin.is_admin = true;
    DS_TRY(t.users().create(admin));
    DS_TRY(t.users().create(account("@a:x")));
    return t.users().create(account("@b:x"));
  });
  auto& s = db_->read().users();
  EXPECT_TRUE(*s.exists("@a:x"));
  EXPECT_FALSE(*s.exists("@nobody:x"));
  EXPECT_FALSE(s.account("@nobody:x")->has_value());
  auto again = db_->transact_blocking<Ok>([](Txn& t) -> Result<Ok> {
    DS_TRY(t.users().create(account("@a:x")));  // the ID is the key
    return Ok{};
  });
  EXPECT_FALSE(again.ok());
  auto admin = *s.account("@admin:x");
  ASSERT_TRUE(admin.has_value());
  EXPECT_TRUE(admin->is_admin);
  EXPECT_EQ(admin->password_hash, "hash-of-@admin:x");
  EXPECT_EQ(admin->created_ts, 1000);
  EXPECT_EQ(admin->profile.displayname, "Admin");
  EXPECT_FALSE(admin->profile.avatar_url.has_value());
  EXPECT_TRUE(*s.is_admin("@admin:x"));
  EXPECT_FALSE(*s.is_admin("@a:x"));

  write([](Txn& t) -> Status {
    DS_TRY(t.users().set_password_hash("@a:x", "new"));
    DS_TRY(t.users().set_displayname("@a:x", "Alice"));
    DS_TRY(t.users().set_avatar_url("@a:x", "mxc://x/a"));
    DS_TRY(t.users().set_displayname("@admin:x", std::nullopt));
    DS_TRY(t.users().deactivate("@b:x", true));
    DS_TRY(t.users().deactivate("@b:x", false));  // erasure is never undone
    return t.users().deactivate("@admin:x", false);
  });
  auto a = **s.account("@a:x");
  EXPECT_EQ(a.password_hash, "new");
  EXPECT_EQ(s.profile("@a:x")->value().displayname, "Alice");
  EXPECT_EQ(s.profile("@a:x")->value().avatar_url, "mxc://x/a");
  EXPECT_FALSE(s.profile("@admin:x")->value().displayname.has_value());
  auto b = **s.account("@b:x");
  EXPECT_TRUE(b.deactivated);
  EXPECT_TRUE(b.erased);
  EXPECT_FALSE(b.password_hash.has_value());
  EXPECT_FALSE(*s.is_active("@b:x"));
  EXPECT_TRUE(*s.is_active("@a:x"));
  EXPECT_TRUE(s.profile("@b:x")->has_value());  // deactivated accounts still exist
  EXPECT_EQ(*s.erased_users(), std::vector<std::string>{"@b:x"});
}

TEST_F(UserMediaStoresTest, TokensNameTheirDeviceAndEndWithIt) {
  write([](Txn& t) -> Status {
    DS_TRY(t.users().create(account("@a:x")));
    DS_TRY(t.users().add_token("h1", "@a:x", "D1", 5));
    DS_TRY(t.users().add_token("h2", "@a:x", "D1", 6));
    return t.users().add_token("h3", "@a:x", "D2", 7);
  });
  auto& s = db_->read().users();
  auto owner = *s.token_owner("h3");
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->user_id, "@a:x");
  EXPECT_EQ(owner->device_id, "D2");
  EXPECT_FALSE(owner->is_admin);
  EXPECT_FALSE(owner->deactivated);
  EXPECT_FALSE(s.token_owner("unknown")->has_value());

  write([](Txn& t) -> Status { return t.users().remove_tokens("@a:x", "D1"); });
  EXPECT_FALSE(s.token_owner("h1")->has_value());
  EXPECT_FALSE(s.token_owner("h2")->has_value());
  EXPECT_TRUE(s.token_owner("h3")->has_value());

  // A token of a deactivated account still resolves; the caller refuses it.
  write([](Txn& t) -> Status { return t.users().deactivate("@a:x", false); });
  EXPECT_TRUE(s.token_owner("h3")->value().deactivated);
}

TEST_F(UserMediaStoresTest, DirectorySearchTakesTheTermLiterallyAndPagesByUserId) {
  write([](Txn& t) -> Status {
    DS_TRY(t.users().create(account("@alice:x", "Alice Liddell")));
    DS_TRY(t.users().create(account("@bob:x", "Bob 100%")));
    DS_TRY(t.users().create(account("@carol:x", "Carol_Ann")));
    DS_TRY(t.users().create(account("@dave:x", "ALICE's friend")));
    DS_TRY(t.users().create(account("@gone:x", "Alice too")));
    return t.users().deactivate("@gone:x", false);
  });
  auto& s = db_->read().users();
  auto ids = [&](const std::string& term, const std::string& after = "", size_t limit = 10) {
    std::vector<std::string> out;
    auto found = s.search(term, after, limit);
    EXPECT_TRUE(found.ok());
    for (auto& m : *found) out.push_back(m.user_id);
    return out;
  };
  // ID or display name, ASCII case folded, deactivated accounts left out, in user ID order.
  EXPECT_EQ(ids("alice"), (std::vector<std::string>{"@alice:x", "@dave:x"}));
  EXPECT_EQ(ids("ALI"), (std::vector<std::string>{"@alice:x", "@dave:x"}));
  // LIKE's wildcards and its escape character are plain characters here.
  EXPECT_EQ(ids("%"), std::vector<std::string>{"@bob:x"});
  EXPECT_EQ(ids("_"), std::vector<std::string>{"@carol:x"});
  EXPECT_TRUE(ids("\\").empty());
  EXPECT_TRUE(ids("a%n").empty());
  // Paging: after a user ID, at most limit.
  EXPECT_EQ(ids(":x", "", 2), (std::vector<std::string>{"@alice:x", "@bob:x"}));
  EXPECT_EQ(ids(":x", "@bob:x", 2), (std::vector<std::string>{"@carol:x", "@dave:x"}));
  auto first = *s.search("liddell", "", 10);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].profile.displayname, "Alice Liddell");
  EXPECT_FALSE(first[0].profile.avatar_url.has_value());
}

TEST_F(UserMediaStoresTest, CoMembersAreThoseJoinedToARoomTogether) {
  write([](Txn& t) -> Status {
    DS_TRY(t.memberships().set({"!r:x", "@a:x", "join", 1}, "$1"));
    DS_TRY(t.memberships().set({"!r:x", "@b:x", "join", 2}, "$2"));
    DS_TRY(t.memberships().set({"!r:x", "@c:x", "invite", 3}, "$3"));
    DS_TRY(t.memberships().set({"!s:x", "@a:x", "join", 4}, "$4"));
    DS_TRY(t.memberships().set({"!s:x", "@b:x", "join", 5}, "$5"));
    DS_TRY(t.memberships().set({"!s:x", "@d:x", "join", 6}, "$6"));
    return t.memberships().set({"!u:x", "@e:x", "leave", 7}, "$7");
  });
  auto& s = db_->read().memberships();
  auto co = *s.co_members("@a:x");
  std::sort(co.begin(), co.end());
  EXPECT_EQ(co, (std::vector<std::string>{"@a:x", "@b:x", "@d:x"}));  // each once, no invitees
  EXPECT_TRUE(s.co_members("@c:x")->empty());
  EXPECT_TRUE(s.co_members("@e:x")->empty());
}

TEST_F(UserMediaStoresTest, DevicesAreAddedTouchedRenamedAndRemoved) {
  write([](Txn& t) -> Status {
    DS_TRY(t.devices().add_or_touch("@a:x", "PHONE", "Phone", 100));
    DS_TRY(t.devices().add_or_touch("@a:x", "LAPTOP", std::nullopt, 200));
    DS_TRY(t.devices().add_or_touch("@b:x", "PHONE", "Bob's", 300));
    return t.devices().add_or_touch("@a:x", "PHONE", "Ignored on a second login", 400);
  });
  auto& s = db_->read().devices();
  auto mine = *s.devices_of("@a:x");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].device_id, "LAPTOP");  // by device ID
  EXPECT_FALSE(mine[0].display_name.has_value());
  EXPECT_EQ(mine[1].device_id, "PHONE");
  EXPECT_EQ(mine[1].display_name, "Phone");
  EXPECT_EQ(mine[1].last_seen_ts, 400);
  EXPECT_EQ(mine[1].created_ts, 100);
  EXPECT_FALSE(mine[1].last_seen_ip.has_value());
  EXPECT_TRUE(*s.exists("@b:x", "PHONE"));
  EXPECT_FALSE(*s.exists("@b:x", "LAPTOP"));
  EXPECT_FALSE(s.device("@b:x", "LAPTOP")->has_value());

  bool renamed = false, renamed_missing = true;
  write([&](Txn& t) -> Status {
    DS_ASSIGN(renamed, t.devices().set_display_name("@a:x", "LAPTOP", "Work laptop"));
    DS_ASSIGN(renamed_missing, t.devices().set_display_name("@a:x", "TABLET", "No such device"));
    return t.devices().remove("@a:x", "PHONE");
  });
  EXPECT_TRUE(renamed);
  EXPECT_FALSE(renamed_missing);
  EXPECT_EQ(s.device("@a:x", "LAPTOP")->value().display_name, "Work laptop");
  EXPECT_FALSE(*s.exists("@a:x", "PHONE"));
  EXPECT_TRUE(*s.exists("@b:x", "PHONE"));  // another user's device of the same ID stays
}

TEST_F(UserMediaStoresTest, MetaValuesAreSetAndReplaced) {
  auto& s = db_->read().meta();
  EXPECT_FALSE(s.get("retention_policy")->has_value());
  write([](Txn& t) -> Status { return t.meta().put("retention_policy", "{\"a\":1}"); });
  EXPECT_EQ(*s.get("retention_policy"), "{\"a\":1}");
  write([](Txn& t) -> Status { return t.meta().put("retention_policy", "{\"a\":2}"); });
  EXPECT_EQ(*s.get("retention_policy"), "{\"a\":2}");
}

MediaRecord media(const std::string& server, const std::string& id, const std::string& user,
                  const std::string& sha256, int64_t size, int64_t created) {
  MediaRecord m;
  m.server_name = server;
  m.media_id = id;
  m.user_id = user;
  m.content_type = sha256.empty() ? "" : "image/png";
  m.upload_name = sha256.empty() ? "" : "a.png";
  m.sha256 = sha256;
  m.size = size;
  m.created_ts = created;
  return m;
}

TEST_F(UserMediaStoresTest, MediaRowsPendingUploadsQuotaAndQuarantine) {
  std::string h1(64, '1');
  MediaRecord up = media("x", "up", "@a:x", h1, 10, 100);
  up.legacy_ok = true;
  MediaRecord pending = media("x", "p", "@a:x", "", 0, 100);
  pending.expires_ts = 1000;
  MediaRecord stale = media("x", "q", "@a:x", "", 0, 50);
  stale.expires_ts = 90;
  write([&](Txn& t) -> Status {
    DS_TRY(t.media().add(up));
    DS_TRY(t.media().add(pending));
    DS_TRY(t.media().add(stale));
    return t.media().add(media("x", "b", "@b:x", h1, 7, 100));
  });
  auto& s = db_->read().media();
  auto got = *s.media("x", "up");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->user_id, "@a:x");
  EXPECT_EQ(got->content_type, "image/png");
  EXPECT_EQ(got->upload_name, "a.png");
  EXPECT_EQ(got->sha256, h1);
  EXPECT_EQ(got->size, 10);
  EXPECT_TRUE(got->legacy_ok);
  EXPECT_FALSE(got->quarantined);
  EXPECT_FALSE(s.media("x", "none")->has_value());
  auto p = **s.media("x", "p");
  EXPECT_TRUE(p.pending());
  EXPECT_EQ(p.expires_ts, 1000);
  EXPECT_EQ(*s.bytes_used("@a:x"), 10);
  EXPECT_EQ(*s.bytes_used("@b:x"), 7);
  EXPECT_EQ(*s.pending_count("@a:x", 100), 1);  // q has expired
  EXPECT_EQ(*s.pending_count("@a:x", 1000), 0);

  std::string h2(64, '2');
  bool first = false, second = true;
  write([&](Txn& t) -> Status {
    MediaRecord done = media("x", "p", "@a:x", h2, 5, 200);
    DS_ASSIGN(first, t.media().complete(done));
    DS_ASSIGN(second, t.media().complete(done));  // no longer pending
    return t.media().set_quarantined("x", "b");
  });
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  p = **s.media("x", "p");
  EXPECT_FALSE(p.pending());
  EXPECT_EQ(p.sha256, h2);
  EXPECT_EQ(p.expires_ts, 0);
  EXPECT_EQ(*s.bytes_used("@a:x"), 15);
  EXPECT_TRUE(s.media("x", "b")->value().quarantined);
}

TEST_F(UserMediaStoresTest, ThumbnailsAreKeptOncePerSizeAndFilesInUseUntilTheLastRowGoes) {
  const int64_t day = 86'400'000, now = 100 * day;
  std::string orig(64, 'a'), thumb(64, 'b'), other(64, 'c');
  MediaRecord local = media("x", "l", "@a:x", orig, 10, now - 90 * day);
  MediaRecord remote_old = media("y", "r1", "", orig, 10, now - 60 * day);
  MediaRecord remote_fresh = media("y", "r2", "", other, 10, now - day);
  MediaRecord pending_old = media("x", "p", "@a:x", "", 0, now - 2 * day);
  pending_old.expires_ts = now - day;
  write([&](Txn& t) -> Status {
    for (auto* m : {&local, &remote_old, &remote_fresh, &pending_old}) DS_TRY(t.media().add(*m));
    DS_TRY(t.media().add_thumbnail("y", "r1", 32, 32, "crop", {thumb, "image/png", 3, 32, 32}));
    // A second thumbnail for the same size and method is ignored, not an error.
    return t.media().add_thumbnail("y", "r1", 32, 32, "crop", {other, "image/jpeg", 4, 30, 30});
  });
  auto& s = db_->read().media();
  auto t = *s.thumbnail("y", "r1", 32, 32, "crop");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->sha256, thumb);
  EXPECT_EQ(t->content_type, "image/png");
  EXPECT_EQ(t->size, 3);
  EXPECT_EQ(t->width, 32);
  EXPECT_FALSE(s.thumbnail("y", "r1", 32, 32, "scale")->has_value());
  EXPECT_TRUE(*s.file_in_use(thumb));
  EXPECT_FALSE(*s.file_in_use(std::string(64, 'd')));

  auto ids = [](const std::vector<MediaRecord>& ms) {
    std::vector<std::string> out;
    for (auto& m : ms) out.push_back(m.media_id);
    std::sort(out.begin(), out.end());
    return out;
  };
  // Expired: the pending upload past its time and remote media unused since the cutoff.
  EXPECT_EQ(ids(*s.expired("x", now, now - 30 * day)), (std::vector<std::string>{"p", "r1"}));
  EXPECT_EQ(ids(*s.expired("x", now, 0)), std::vector<std::string>{"p"});  // remote kept

  std::vector<std::string> freed;
  write([&](Txn& tx) -> Status {
    DS_ASSIGN(freed, tx.media().remove("y", "r1"));
    return ok_status();
  });
  std::sort(freed.begin(), freed.end());
  EXPECT_EQ(freed, (std::vector<std::string>{orig, thumb}));
  EXPECT_FALSE(s.media("y", "r1")->has_value());
  EXPECT_FALSE(s.thumbnail("y", "r1", 32, 32, "crop")->has_value());
  EXPECT_FALSE(*s.file_in_use(thumb));
  EXPECT_TRUE(*s.file_in_use(orig));  // local still refers to it
  write([&](Txn& tx) -> Status {
    DS_ASSIGN(freed, tx.media().remove("x", "p"));
    return ok_status();
  });
  EXPECT_TRUE(freed.empty());  // a pending upload has no file yet
}

TEST_F(UserMediaStoresTest, AWriteThatFailsLeavesNoAccountOrToken) {
  auto r = db_->transact_blocking<Ok>([](Txn& t) -> Result<Ok> {
    DS_TRY(t.users().create(account("@a:x")));
    DS_TRY(t.users().add_token("h", "@a:x", "D", 1));
    return Error::forbidden("changed my mind");
  });
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(*db_->read().users().exists("@a:x"));
  EXPECT_FALSE(db_->read().users().token_owner("h")->has_value());
}

}  // namespace
}  // namespace despatch::storage
