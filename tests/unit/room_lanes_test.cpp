// The per-room write path against a real database: a room whose job is stuck does not hold
// up another room, jobs waiting on one room are committed together and in order, and a job
// that fails half-way leaves nothing behind for the jobs batched with it.
#include "service/rooms/room_lanes.h"

#include <chrono>

#include "room_fixture.h"

namespace despatch {
namespace {

using namespace std::chrono_literals;
using test::kAlice;

class RoomLanesTest : public test::RoomServiceTest {};

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
