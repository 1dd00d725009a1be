// FederationQueueStore against a real SQLite database: each destination's PDUs and EDUs in
// the order queued, batches capped per kind, acknowledged rows deleted, ids never reused,
// and the queue still there after the database is closed and opened again.
#include "storage/database.h"
#include "storage/federation_queue_store.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <filesystem>

namespace despatch::storage {
namespace {

class FederationQueueStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_federation_queue_test");
    open();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    db_.reset();
    auto db = Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
  }
  void write(const std::function<Status(Txn&)>& fn) {
    auto r = db_->transact_blocking<Ok>([&](Txn& t) -> Result<Ok> { return fn(t); });
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  void put(const std::string& dest, QueueKind kind, int n, const std::string& tag) {
    write([&](Txn& t) -> Status {
      for (int i = 0; i < n; ++i)
        DS_TRY(t.federation_queue().enqueue(dest, kind, "{\"n\":\"" + tag + std::to_string(i) + "\"}", 1000 + i));
      return ok_status();
    });
  }
  static std::vector<int64_t> ids(const QueueBatch& b) {
    std::vector<int64_t> out;
    for (auto& i : b.pdus) out.push_back(i.id);
    for (auto& i : b.edus) out.push_back(i.id);
    return out;
  }
  FederationQueueStore& q() { return db_->read().federation_queue(); }
  std::filesystem::path dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(FederationQueueStoreTest, BatchesKeepQueueOrderPerDestinationAndKind) {
  put("b.org", QueueKind::kPdu, 3, "p");
  put("c.org", QueueKind::kPdu, 1, "c");
  put("b.org", QueueKind::kEdu, 2, "e");
  put("b.org", QueueKind::kPdu, 2, "q");
  auto b = q().batch("b.org", 50, 100);
  ASSERT_TRUE(b.ok()) << b.error().message;
  ASSERT_EQ(b->pdus.size(), 5u);
  std::vector<std::string> order;
  for (auto& p : b->pdus) order.push_back(p.json);
  EXPECT_EQ(order, (std::vector<std::string>{"{\"n\":\"p0\"}", "{\"n\":\"p1\"}", "{\"n\":\"p2\"}", "{\"n\":\"q0\"}",
                                             "{\"n\":\"q1\"}"}));
  for (size_t i = 1; i < b->pdus.size(); ++i) EXPECT_LT(b->pdus[i - 1].id, b->pdus[i].id);
  ASSERT_EQ(b->edus.size(), 2u);
  EXPECT_EQ(b->edus[0].json, "{\"n\":\"e0\"}");
  EXPECT_EQ(b->edus[0].kind, QueueKind::kEdu);
  auto c = q().batch("c.org", 50, 100);
  ASSERT_EQ(c->pdus.size(), 1u);
  EXPECT_TRUE(c->edus.empty());
  EXPECT_TRUE(q().batch("nobody.org", 50, 100)->empty());
  EXPECT_EQ(*q().destinations(), (std::vector<std::string>{"b.org", "c.org"}));
  EXPECT_EQ(*q().backlog("b.org"), 7);
  EXPECT_EQ(*q().backlog(""), 8);
}

TEST_F(FederationQueueStoreTest, BatchesAreCappedAndAcknowledgedRowsGo) {
  put("b.org", QueueKind::kPdu, 60, "p");
  put("b.org", QueueKind::kEdu, 120, "e");
  auto first = q().batch("b.org", 50, 100);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->pdus.size(), 50u);
  EXPECT_EQ(first->edus.size(), 100u);
  EXPECT_EQ(first->pdus.front().json, "{\"n\":\"p0\"}");
  // The same rows again until they are acknowledged: a retry carries the same batch.
  EXPECT_EQ(ids(*q().batch("b.org", 50, 100)), ids(*first));
  write([&](Txn& t) -> Status { return t.federation_queue().remove("b.org", ids(*first)); });
  auto second = q().batch("b.org", 50, 100);
  ASSERT_EQ(second->pdus.size(), 10u);
  ASSERT_EQ(second->edus.size(), 20u);
  EXPECT_EQ(second->pdus.front().json, "{\"n\":\"p50\"}");
  EXPECT_EQ(second->edus.front().json, "{\"n\":\"e100\"}");
  // Removing names its destination: rows of another destination are left alone.
  put("c.org", QueueKind::kPdu, 1, "c");
  auto c = q().batch("c.org", 50, 100);
  write([&](Txn& t) -> Status { return t.federation_queue().remove("b.org", ids(*c)); });
  EXPECT_EQ(*q().backlog("c.org"), 1);
  write([&](Txn& t) -> Status { return t.federation_queue().remove("b.org", ids(*second)); });
  EXPECT_TRUE(q().batch("b.org", 50, 100)->empty());
  EXPECT_EQ(*q().destinations(), (std::vector<std::string>{"c.org"}));
}

TEST_F(FederationQueueStoreTest, IdsAreNeverReusedAndTheQueueSurvivesARestart) {
  put("b.org", QueueKind::kPdu, 3, "p");
  auto all = q().batch("b.org", 50, 100);
  int64_t last = all->pdus.back().id;
  // The newest row goes: a plain rowid would hand its id out again.
  write([&](Txn& t) -> Status { return t.federation_queue().remove("b.org", {last}); });
  open();
  auto kept = q().batch("b.org", 50, 100);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->pdus.size(), 2u);
  EXPECT_EQ(kept->pdus[1].json, "{\"n\":\"p1\"}");
  put("b.org", QueueKind::kPdu, 1, "new");
  auto after = q().batch("b.org", 50, 100);
  ASSERT_EQ(after->pdus.size(), 3u);
  EXPECT_GT(after->pdus.back().id, last);
  EXPECT_EQ(after->pdus.back().json, "{\"n\":\"new0\"}");
  EXPECT_EQ(*q().destinations(), (std::vector<std::string>{"b.org"}));
}

}  // namespace
}  // namespace despatch::storage
