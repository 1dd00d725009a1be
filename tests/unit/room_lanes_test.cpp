// The per-room write path against a real database: a room whose job is stuck does not hold
// up another room, jobs waiting on one room are committed together and in order, and a job
// that fails half-way leaves nothing behind for the jobs batched with it.
#include "service/rooms/room_lanes.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "service/notifier/notifier.h"
#include "service/push/push_service.h"
#include "service/records/archive.h"
#include "service/rooms/room_service.h"
#include "service/rooms/room_writer.h"
#include "storage/event_store.h"
#include "test_support.h"

namespace despatch {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kAlice = "@alice:test";

class RoomLanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_lanes_test");
    config_.server_name = "test";
    config_.data_dir = dir_.string();
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    push_ = std::make_unique<PushService>(*db_, notifier_);
    archive_ = std::make_unique<Archive>(*db_, key_, RecordsKeyPair::generate().public_key, 0);
    rooms_ = std::make_unique<RoomService>(config_, *db_, notifier_, key_, *push_, *archive_);
    threads_.emplace_back([this] { io_.run(); });
    threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    for (auto& t : threads_) t.join();
    rooms_.reset();
    archive_.reset();
    push_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs a coroutine of the service on the io threads and waits for its result.
  template <class T>
  Result<T> run(asio::awaitable<Result<T>> aw) {
    std::promise<Result<T>> p;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { p.set_value(co_await std::move(aw)); }, asio::detached);
    return p.get_future().get();
  }
  std::string make_room() {
    auto r = run(rooms_->create_room(kAlice, json::object{{"preset", "public_chat"}}));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : "";
  }
  // A job that appends one message with body `body`, then fails if `fail`.
  RoomLanes::Job message_job(const std::string& room, const std::string& body, bool fail,
                             std::promise<Status>& done, std::string* event_id = nullptr) {
    return RoomLanes::Job{[=](RoomWriter& w) -> Status {
                            json::object proto{{"type", "m.room.message"}, {"sender", kAlice},
                                               {"content", json::object{{"msgtype", "m.text"}, {"body", body}}}};
                            DS_ASSIGN(json::object ev, w.append(room, proto));
                            if (event_id) *event_id = ev.at("event_id").as_string();
                            if (fail) return Error::forbidden("failed after appending");
                            return ok_status();
                          },
                          [&done](const Error* err) { done.set_value(err ? Status(*err) : ok_status()); }};
  }

  std::filesystem::path dir_;
  Config config_;
  SigningKey key_ = SigningKey::generate("t1");
  std::unique_ptr<storage::Database> db_;
  Notifier notifier_;
  std::unique_ptr<PushService> push_;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<RoomService> rooms_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

TEST_F(RoomLanesTest, StuckRoomDoesNotHoldUpAnotherRoom) {
  std::string a = make_room(), b = make_room();
  RoomLanes lanes(*rooms_, *db_, notifier_);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> a_started;
  std::promise<Status> a_done, b_done;
  lanes.submit(a, io_.get_executor(),
               RoomLanes::Job{[&](RoomWriter&) -> Status {
                                a_started.set_value();
                                released.wait();  // holds room a's lane (and one io thread)
                                return ok_status();
                              },
                              [&](const Error* err) { a_done.set_value(err ? Status(*err) : ok_status()); }});
  a_started.get_future().wait();
  std::string b_event;
  lanes.submit(b, io_.get_executor(), message_job(b, "room b goes on", false, b_done, &b_event));
  auto b_future = b_done.get_future();
  ASSERT_EQ(b_future.wait_for(10s), std::future_status::ready) << "room b waited for room a";
  EXPECT_TRUE(b_future.get().ok());
  auto stored = db_->read().events().event(b_event);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->has_value()) << "room b's event is durable while room a is stuck";
  auto a_future = a_done.get_future();
  EXPECT_EQ(a_future.wait_for(0s), std::future_status::timeout);
  release.set_value();
  EXPECT_TRUE(a_future.get().ok());
}

TEST_F(RoomLanesTest, WaitingJobsCommitTogetherInOrder) {
  std::string room = make_room();
  RoomLanes lanes(*rooms_, *db_, notifier_);
  // Hold the lane so that the next jobs queue up behind it.
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  std::promise<Status> first;
  lanes.submit(room, io_.get_executor(),
               RoomLanes::Job{[&](RoomWriter&) -> Status {
                                started.set_value();
                                released.wait();
                                return ok_status();
                              },
                              [&](const Error* err) { first.set_value(err ? Status(*err) : ok_status()); }});
  started.get_future().wait();
  constexpr int kJobs = 40;
  std::vector<std::promise<Status>> done(kJobs);
  std::vector<std::string> ids(kJobs);
  for (int i = 0; i < kJobs; ++i)
    lanes.submit(room, io_.get_executor(), message_job(room, "m" + std::to_string(i), false, done[i], &ids[i]));
  int64_t commits_before = db_->commit_count();
  release.set_value();
  ASSERT_TRUE(first.get_future().get().ok());
  for (auto& d : done) ASSERT_TRUE(d.get_future().get().ok());
  // One batch: a single write job, so at most one or two group commits, not one per job.
  EXPECT_LE(db_->commit_count() - commits_before, 2);
  // In submission order, each on the one before.
  for (int i = 1; i < kJobs; ++i) {
    auto ev = db_->read().events().event(ids[i]);
    ASSERT_TRUE(ev.ok() && ev->has_value());
    auto& prev = (*ev)->pdu.at("prev_events").as_array();
    ASSERT_EQ(prev.size(), 1u);
    EXPECT_EQ(prev[0].as_string(), ids[i - 1]);
    auto before = db_->read().events().event(ids[i - 1]);
    EXPECT_LT((*before)->pos, (*ev)->pos);
  }
}

TEST_F(RoomLanesTest, FailedJobLeavesNothingForItsBatch) {
  std::string room = make_room();
  RoomLanes lanes(*rooms_, *db_, notifier_);
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  std::promise<Status> hold;
  lanes.submit(room, io_.get_executor(),
               RoomLanes::Job{[&](RoomWriter&) -> Status {
                                started.set_value();
                                released.wait();
                                return ok_status();
                              },
                              [&](const Error* err) { hold.set_value(err ? Status(*err) : ok_status()); }});
  started.get_future().wait();
  std::promise<Status> one, two, three;
  std::string id1, id2, id3;
  lanes.submit(room, io_.get_executor(), message_job(room, "kept", false, one, &id1));
  lanes.submit(room, io_.get_executor(), message_job(room, "undone", true, two, &id2));
  lanes.submit(room, io_.get_executor(), message_job(room, "kept too", false, three, &id3));
  release.set_value();
  EXPECT_TRUE(hold.get_future().get().ok());
  EXPECT_TRUE(one.get_future().get().ok());
  Status failed = two.get_future().get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().errcode, errc::kForbidden);
  EXPECT_TRUE(three.get_future().get().ok());
  auto undone = db_->read().events().event(id2);
  ASSERT_TRUE(undone.ok());
  EXPECT_FALSE(undone->has_value()) << "the failed job's event was written";
  auto third = db_->read().events().event(id3);
  ASSERT_TRUE(third.ok() && third->has_value());
  auto& prev = (*third)->pdu.at("prev_events").as_array();
  ASSERT_EQ(prev.size(), 1u);
  EXPECT_EQ(prev[0].as_string(), id1) << "the third job built on the failed one";
  // The lane goes on from the kept events.
  std::promise<Status> four;
  std::string id4;
  lanes.submit(room, io_.get_executor(), message_job(room, "after", false, four, &id4));
  ASSERT_TRUE(four.get_future().get().ok());
  auto after = db_->read().events().event(id4);
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->pdu.at("prev_events").as_array()[0].as_string(), id3);
}

}  // namespace
}  // namespace despatch
