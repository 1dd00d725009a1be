#include "storage/database.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace despatch::storage {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_db_test");
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

uintmax_t wal_size(const std::filesystem::path& dir) {
  std::error_code ec;
  auto n = std::filesystem::file_size(dir / "despatch.db-wal", ec);
  return ec ? 0 : n;
}

Status insert_blob(Database& db, const std::string& key, int bytes) {
  return db.write_blocking<Ok>([&](Conn& c) -> Status {
    return c.exec("INSERT INTO meta(key, value) VALUES(?, randomblob(?))", {key, int64_t{bytes}});
  });
}

TEST_F(DatabaseTest, TheWalIsTruncatedOnceTheWriterIsIdle) {
  auto db = open();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(insert_blob(*db, "idle" + std::to_string(i), 64 << 10).ok());
  EXPECT_GT(wal_size(dir_), 8u << 20);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (wal_size(dir_) > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(wal_size(dir_), 0u) << "an idle writer should leave an empty WAL";
  auto n = query_one(db->reader(), "SELECT COUNT(*) FROM meta WHERE key LIKE 'idle%'");
  EXPECT_EQ((*n)->i64(0), 200);
}

TEST_F(DatabaseTest, TheWalStaysBoundedUnderSteadyWritesAndReads) {
  auto db = open();
  std::atomic<bool> done{false};
  std::atomic<uintmax_t> peak{0};
  // Readers that never pause keep PASSIVE checkpoints from ever letting SQLite start the
  // WAL over; the bound must hold regardless.
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&] {
      while (!done) (void)query_one(db->reader(), "SELECT COUNT(*) FROM meta");
    });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 128; ++i) {
        ASSERT_TRUE(insert_blob(*db, std::to_string(t) + ":" + std::to_string(i), 256 << 10).ok());
        uintmax_t now = wal_size(dir_), was = peak.load();
        while (now > was && !peak.compare_exchange_weak(was, now)) {
        }
      }
    });
  for (auto& w : writers) w.join();
  done = true;
  for (auto& r : threads) r.join();
  // 128 MiB were written; the WAL is started over past 32 MiB, and a restart that readers
  // hold off is retried within a second, so it stays far below what was written (on a busy
  // machine a retry or two may be missed: hence half, not just over 32 MiB).
  EXPECT_LT(peak.load(), 64u << 20);
  auto n = query_one(db->reader(), "SELECT COUNT(*) FROM meta WHERE length(value) = 262144");
  EXPECT_EQ((*n)->i64(0), 4 * 128);
}

TEST_F(DatabaseTest, MigrationsAreRecorded) {
  auto db = open();
  auto v = query_one(db->reader(), "SELECT MAX(version) FROM schema_version");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_GE((*v)->i64(0), 2);
}

}  // namespace
}  // namespace despatch::storage
