// The user directory's rules, through UserService over a real database: visible are the
// searcher, users sharing a joined room with them and users joined to a public room;
// deactivated accounts never; the term is literal text of at most 256 bytes; `limited` says
// that more visible users match, however many invisible ones come between.
#include "service/users/user_service.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"
#include "storage/user_store.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <cstdio>

namespace despatch {
namespace {

using storage::Txn;

class UserDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_user_directory_test");
    config_.data_dir = dir_.string();
    config_.server_name = "x";
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    users_ = std::make_unique<UserService>(config_, *db_, cpu_, notifier_);
  }
  void TearDown() override {
    users_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void write(const std::function<Status(Txn&)>& fn) {
    auto r = db_->transact_blocking<Ok>([&](Txn& t) -> Result<Ok> { return fn(t); });
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  static Status add_user(Txn& t, const std::string& id, const std::string& name) {
    DS_TRY(insert_user(t, id, "", false));
    return t.users().set_displayname(id, name);
  }
  static Status join(Txn& t, const std::string& room, const std::string& user, const std::string& membership = "join") {
    static int64_t pos = 0;
    ++pos;
    return t.memberships().set({room, user, membership, pos}, "$m" + std::to_string(pos));
  }
  std::vector<std::string> search(const std::string& searcher, const std::string& term, size_t limit,
                                  bool* limited = nullptr) {
    bool l = false;
    auto r = users_->search_directory(searcher, term, limit, &l);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (limited) *limited = l;
    std::vector<std::string> out;
    if (r.ok())
      for (auto& u : *r) out.push_back(std::string(u.as_object().at("user_id").as_string()));
    return out;
  }

  std::filesystem::path dir_;
  Config config_;
  CpuPool cpu_{1};
  Notifier notifier_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<UserService> users_;
};

TEST_F(UserDirectoryTest, SharedAndPublicRoomsDecideWhoIsVisible) {
  write([](Txn& t) -> Status {
    for (auto* u : {"alice", "bob", "carol", "dave", "erin", "frank", "gina"})
      DS_TRY(add_user(t, std::string("@") + u + ":x", std::string("Team ") + u));
    DS_TRY(t.rooms().create({"!private:x", "11", "@alice:x", false, 1, "group"}));
    DS_TRY(t.rooms().create({"!public:x", "11", "@dave:x", true, 2, "group"}));
    DS_TRY(t.rooms().create({"!other:x", "11", "@carol:x", false, 3, "group"}));
    DS_TRY(join(t, "!private:x", "@alice:x"));
    DS_TRY(join(t, "!private:x", "@bob:x"));
    DS_TRY(join(t, "!private:x", "@erin:x", "invite"));  // invited is not sharing
    DS_TRY(join(t, "!private:x", "@frank:x"));
    DS_TRY(join(t, "!public:x", "@dave:x"));
    DS_TRY(join(t, "!public:x", "@gina:x", "leave"));  // left the public room
    DS_TRY(join(t, "!other:x", "@carol:x"));
    return t.users().deactivate("@frank:x", false);
  });
  EXPECT_EQ(search("@alice:x", "team", 10), (std::vector<std::string>{"@alice:x", "@bob:x", "@dave:x"}));
  // Carol shares no room with anyone, but sees dave through the public room, and herself.
  EXPECT_EQ(search("@carol:x", "team", 10), (std::vector<std::string>{"@carol:x", "@dave:x"}));
  // A searcher in no room at all sees themselves (their account matches) and public rooms.
  EXPECT_EQ(search("@gina:x", "team", 10), (std::vector<std::string>{"@dave:x", "@gina:x"}));
  EXPECT_EQ(search("@alice:x", "BOB", 10), std::vector<std::string>{"@bob:x"});  // by ID, any case
  EXPECT_TRUE(search("@alice:x", "carol", 10).empty());
  EXPECT_TRUE(search("@alice:x", "frank", 10).empty());  // deactivated

  bool limited = false;
  EXPECT_EQ(search("@alice:x", "team", 2, &limited), (std::vector<std::string>{"@alice:x", "@bob:x"}));
  EXPECT_TRUE(limited);
  EXPECT_EQ(search("@alice:x", "team", 3, &limited).size(), 3u);
  EXPECT_FALSE(limited);
}

TEST_F(UserDirectoryTest, InvisibleMatchesDoNotHideLaterVisibleOnes) {
  // 130 matching strangers sort before the one visible match: the search pages past them.
  write([](Txn& t) -> Status {
    for (int i = 0; i < 130; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "@m%03d:x", i);
      DS_TRY(add_user(t, id, "match"));
    }
    DS_TRY(add_user(t, "@searcher:x", "someone"));
    DS_TRY(add_user(t, "@zed:x", "match"));
    DS_TRY(add_user(t, "@zoe:x", "match"));
    DS_TRY(t.rooms().create({"!r:x", "11", "@searcher:x", false, 1, "group"}));
    DS_TRY(join(t, "!r:x", "@searcher:x"));
    DS_TRY(join(t, "!r:x", "@zed:x"));
    return join(t, "!r:x", "@zoe:x");
  });
  bool limited = true;
  EXPECT_EQ(search("@searcher:x", "match", 5, &limited), (std::vector<std::string>{"@zed:x", "@zoe:x"}));
  EXPECT_FALSE(limited);
  EXPECT_EQ(search("@searcher:x", "match", 1, &limited), std::vector<std::string>{"@zed:x"});
  EXPECT_TRUE(limited);
}

TEST_F(UserDirectoryTest, TermsAreLiteralAndBounded) {
  write([](Txn& t) -> Status {
    DS_TRY(add_user(t, "@a:x", "100% sure"));
    DS_TRY(add_user(t, "@b:x", "under_score"));
    DS_TRY(t.rooms().create({"!r:x", "11", "@a:x", false, 1, "group"}));
    DS_TRY(join(t, "!r:x", "@a:x"));
    return join(t, "!r:x", "@b:x");
  });
  EXPECT_EQ(search("@a:x", "%", 10), std::vector<std::string>{"@a:x"});
  EXPECT_EQ(search("@a:x", "_", 10), std::vector<std::string>{"@b:x"});
  EXPECT_TRUE(search("@a:x", "%_", 10).empty());
  EXPECT_TRUE(search("@a:x", std::string(kMaxSearchTermBytes, 'a'), 10).empty());  // at the bound: searched

  bool limited = false;
  auto r = users_->search_directory("@a:x", std::string(kMaxSearchTermBytes + 1, 'a'), 10, &limited);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errcode, errc::kInvalidParam);
  EXPECT_EQ(r.error().status, 400);
}

}  // namespace
}  // namespace despatch
