// The outbox against a real database: what one commit queued is sent once that commit ends,
// whatever other commits end meanwhile.
#include "service/federation/outbox.h"

#include "core/crypto.h"
#include "service/federation/metrics.h"
#include "service/federation/sender.h"
#include "storage/database.h"
#include "storage/federation_queue_store.h"
#include "test_support.h"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

namespace despatch {
namespace {

namespace asio = boost::asio;

// Answers every transaction with 200 and keeps what it was sent.
class RecordingTransport : public FederationTransport {
 public:
  asio::awaitable<Result<FederationResponse>> send(FederationRequest req) override {
    {
      std::lock_guard lock(mu_);
      sent_.push_back(std::move(req));
    }
    FederationResponse res;
    res.status = 200;
    res.body = json::object{{"pdus", json::object{}}};
    co_return res;
  }
  std::vector<FederationRequest> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<FederationRequest> sent_;
};

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_outbox_test");
    config_.server_name = "here.test";
    config_.data_dir = dir_.string();
    config_.federation.enabled = true;
    config_.federation.allow = {"peer.test"};
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    sender_ = std::make_unique<FederationSender>(config_, key_, &transport_, metrics_);
    outbox_ = std::make_unique<Outbox>(config_, *db_, *sender_, metrics_, io_, Outbox::Retry{});
  }
  void TearDown() override {
    outbox_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Runs what the outbox started until done() holds or `limit` passes (replies from the
  // writer thread arrive on io_ without keeping it busy, so run() alone could stop early).
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
      if (done()) return true;
    }
    return done();
  }
  int64_t backlog() {
    auto n = db_->read().federation_queue().backlog("peer.test");
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : -1;
  }

  std::filesystem::path dir_;
  Config config_;
  SigningKey key_ = SigningKey::from_seed(std::string(32, 'k'), "k1").value();
  std::unique_ptr<storage::Database> db_;
  RecordingTransport transport_;
  FederationMetrics metrics_;
  asio::io_context io_;
  std::unique_ptr<FederationSender> sender_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AnotherCommitEndingFirstDoesNotLoseTheWake) {
  json::object edu{{"edu_type", "m.typing"}, {"content", json::object{{"room_id", "!r:here.test"}}}};
  std::promise<void> queued, release;
  auto released = release.get_future().share();
  // The first commit queues an EDU and is held open...
  std::thread writer([&] {
    auto r = db_->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
      DS_TRY(outbox_->enqueue_edu_in(t, "first", "peer.test", edu));
      queued.set_value();
      released.wait();
      return ok_status();
    });
    EXPECT_TRUE(r.ok());
  });
  queued.get_future().wait();
  // ...while another ends: its wake must not start (and stop) the sender for rows that are
  // not committed yet.
  outbox_->wake_queued("second");
  run_until([] { return false; }, std::chrono::milliseconds(300));
  EXPECT_TRUE(transport_.sent().empty());
  release.set_value();
  writer.join();
  outbox_->wake_queued("first");
  EXPECT_TRUE(run_until([&] { return backlog() == 0; }));
  auto sent = transport_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].destination, "peer.test");
  ASSERT_TRUE(sent[0].body && sent[0].body->is_object());
  auto* edus = sent[0].body->as_object().if_contains("edus");
  ASSERT_TRUE(edus && edus->is_array());
  ASSERT_EQ(edus->as_array().size(), 1u);
  EXPECT_EQ(edus->as_array()[0].as_object().at("edu_type"), "m.typing");
}

TEST_F(OutboxTest, AFailedCommitSendsNothing) {
  json::object edu{{"edu_type", "m.typing"}, {"content", json::object{}}};
  auto r = db_->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
    DS_TRY(outbox_->enqueue_edu_in(t, "failing", "peer.test", edu));
    return Error::internal("the job fails after queueing");
  });
  EXPECT_FALSE(r.ok());
  outbox_->wake_queued("failing");
  run_until([] { return false; }, std::chrono::milliseconds(300));
  EXPECT_TRUE(transport_.sent().empty());
  EXPECT_EQ(backlog(), 0);
}

}  // namespace
}  // namespace despatch
