#include "storage/database.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace despatch::storage {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("despatch_db_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Database> open() {
    auto db = Database::open_sqlite(dir_.string());
    EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
    return std::move(db).value();
  }
  std::filesystem::path dir_;
};

TEST_F(DatabaseTest, WritesAreVisibleToReadersAfterCommitAndSurviveReopen) {
  {
    auto db = open();
    auto r = db->write_blocking<int64_t>([&](Conn& c) -> Result<int64_t> {
      int64_t pos = db->next_stream_pos();
      DS_TRY(c.exec("INSERT INTO meta(key, value) VALUES('k', 'v')"));
      return pos;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 1);
    EXPECT_EQ(db->committed_stream_pos(), 1);
    auto row = query_one(db->reader(), "SELECT value FROM meta WHERE key='k'");
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_EQ((*row)->str(0), "v");
  }
  auto db = open();
  EXPECT_EQ(db->committed_stream_pos(), 1) << "the stream position is persisted";
  auto row = query_one(db->reader(), "SELECT value FROM meta WHERE key='k'");
  ASSERT_TRUE(row.ok() && row->has_value());
}

TEST_F(DatabaseTest, FailedJobRollsBackOnlyItself) {
  auto db = open();
  std::thread a([&] {
    auto r = db->write_blocking<Ok>([](Conn& c) -> Status {
      DS_TRY(c.exec("INSERT INTO meta(key, value) VALUES('bad', 'x')"));
      return Error::forbidden("refused after writing");
    });
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().errcode, errc::kForbidden);
  });
  auto ok = db->write_blocking<Ok>([](Conn& c) -> Status {
    return c.exec("INSERT INTO meta(key, value) VALUES('good', 'y')");
  });
  a.join();
  EXPECT_TRUE(ok.ok());
  auto bad = query_one(db->reader(), "SELECT 1 FROM meta WHERE key='bad'");
  auto good = query_one(db->reader(), "SELECT 1 FROM meta WHERE key='good'");
  EXPECT_FALSE(bad->has_value());
  EXPECT_TRUE(good->has_value());
}

TEST_F(DatabaseTest, AJobThatThrowsFailsAloneWithAnInternalError) {
  auto db = open();
  int rollbacks = 0;
  db->add_on_rollback([&] { ++rollbacks; });
  auto thrown = db->write_blocking<int64_t>([](Conn& c) -> Result<int64_t> {
    DS_TRY(c.exec("INSERT INTO meta(key, value) VALUES('thrown', 'x')"));
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.error().errcode, errc::kUnknown);
  EXPECT_EQ(rollbacks, 1) << "caches must be dropped after a job throws";
  auto after = db->write_blocking<Ok>([](Conn& c) -> Status {
    return c.exec("INSERT INTO meta(key, value) VALUES('after', 'y')");
  });
  EXPECT_TRUE(after.ok());
  EXPECT_FALSE(query_one(db->reader(), "SELECT 1 FROM meta WHERE key='thrown'")->has_value());
  EXPECT_TRUE(query_one(db->reader(), "SELECT 1 FROM meta WHERE key='after'")->has_value());
}

TEST_F(DatabaseTest, ConcurrentWritersAreGroupedIntoFewerCommits) {
  auto db = open();
  const int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = db->write_blocking<Ok>([&, t, i](Conn& c) -> Status {
          return c.exec("INSERT INTO meta(key, value) VALUES(?, 'x')",
                        {std::to_string(t) + ":" + std::to_string(i)});
        });
        ASSERT_TRUE(r.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto n = query_one(db->reader(), "SELECT COUNT(*) FROM meta WHERE value='x'");
  EXPECT_EQ((*n)->i64(0), kThreads * kEach);
  EXPECT_LE(db->commit_count(), kThreads * kEach);
}

TEST_F(DatabaseTest, MigrationsAreRecorded) {
  auto db = open();
  auto v = query_one(db->reader(), "SELECT MAX(version) FROM schema_version");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_GE((*v)->i64(0), 2);
}

}  // namespace
}  // namespace despatch::storage
