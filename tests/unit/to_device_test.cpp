#include "service/keys/key_service.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace despatch {
namespace {

using storage::Conn;

constexpr const char* kBob = "@bob:example.org";
constexpr const char* kDevice = "BOBDEV";

class ToDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("despatch_to_device_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Queues one message from sender to Bob's device; returns whether it was queued.
  bool queue(const std::string& sender, size_t pad, int seq = 0) {
    std::string content = json::serialize(json::object{{"seq", seq}, {"pad", std::string(pad, 'x')}});
    auto r = db_->transact_blocking<bool>([&](storage::Txn& t) {
      return KeyService::queue_to_device(t, limits_, kBob, kDevice, sender, "org.example.test", content);
    });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() && *r;
  }

  // What one /sync would hand out after position `after`.
  std::vector<int64_t> page(KeyService& keys, int64_t after, int64_t* last) {
    auto msgs = keys.pending_to_device(db_->read(), kBob, kDevice, after, db_->committed_stream_pos(), last);
    EXPECT_TRUE(msgs.ok());
    std::vector<int64_t> seqs;
    for (auto& m : *msgs) seqs.push_back(m.as_object().at("content").as_object().at("seq").as_int64());
    return seqs;
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Database> db_;
  Notifier notifier_;
  ToDeviceLimits limits_;
};

TEST_F(ToDeviceTest, OneSendersBacklogForADeviceIsBoundedByCount) {
  limits_.max_pending_per_sender = 3;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(queue("@alice:example.org", 10, i));
  EXPECT_FALSE(queue("@alice:example.org", 10, 3)) << "a fourth message waiting from the same sender";
  EXPECT_TRUE(queue("@carol:example.org", 10, 4)) << "another sender has a backlog of its own";
  // Once Bob's device has taken them, Alice may send again.
  auto acked = db_->write_blocking<Ok>([&](Conn& c) {
    return c.exec("DELETE FROM to_device WHERE user_id=? AND device_id=?", {std::string(kBob), std::string(kDevice)});
  });
  ASSERT_TRUE(acked.ok());
  EXPECT_TRUE(queue("@alice:example.org", 10, 5));
}

TEST_F(ToDeviceTest, OneSendersBacklogForADeviceIsBoundedByBytes) {
  limits_.max_pending_bytes_per_sender = 1000;
  EXPECT_TRUE(queue("@alice:example.org", 600));
  EXPECT_FALSE(queue("@alice:example.org", 600)) << "1200 bytes waiting would pass the limit";
  EXPECT_TRUE(queue("@alice:example.org", 100));
  auto row = storage::query_one(db_->reader(), "SELECT SUM(bytes), SUM(length(content)) FROM to_device");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ((*row)->i64(0), (*row)->i64(1)) << "bytes records each content's size";
}

TEST_F(ToDeviceTest, SyncPagesByCountAndBytesInOrder) {
  ToDeviceLimits sync_limits;
  sync_limits.max_per_sync = 4;
  sync_limits.max_bytes_per_sync = 1000;
  KeyService keys(*db_, notifier_, sync_limits);
  // Six small messages, then three of about 400 bytes, then one of 5000 (over the budget).
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(queue("@alice:example.org", 10, i));
  for (int i = 6; i < 9; ++i) ASSERT_TRUE(queue("@alice:example.org", 400, i));
  ASSERT_TRUE(queue("@alice:example.org", 5000, 9));
  ASSERT_TRUE(queue("@alice:example.org", 10, 10));

  std::vector<std::vector<int64_t>> pages;
  int64_t after = 0;
  for (int n = 0; n < 10; ++n) {
    int64_t last = -1;
    auto seqs = page(keys, after, &last);
    if (seqs.empty()) {
      EXPECT_EQ(last, after) << "nothing handed out: the position stays";
      break;
    }
    EXPECT_GT(last, after);
    pages.push_back(seqs);
    after = last;
  }
  std::vector<std::vector<int64_t>> want{{0, 1, 2, 3}, {4, 5, 6, 7}, {8}, {9}, {10}};
  EXPECT_EQ(pages, want) << "four at most; about 1000 bytes at most, but always one";
}

TEST_F(ToDeviceTest, APageStopsAtTheSyncsUpperBound) {
  KeyService keys(*db_, notifier_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue("@alice:example.org", 10, i));
  int64_t upto = db_->committed_stream_pos();
  ASSERT_TRUE(queue("@alice:example.org", 10, 3));
  int64_t last = 0;
  auto msgs = keys.pending_to_device(db_->read(), kBob, kDevice, 0, upto, &last);
  ASSERT_TRUE(msgs.ok());
  EXPECT_EQ(msgs->size(), 3u);
  EXPECT_EQ(last, upto);
}

}  // namespace
}  // namespace despatch
