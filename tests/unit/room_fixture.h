// A room service over a real database with two I/O threads, for the tests of the room write
// path (room_lanes_test, room_remote_test).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <future>
#include <thread>

#include "service/notifier/notifier.h"
#include "service/push/push_service.h"
#include "service/records/archive.h"
#include "service/rooms/room_lanes.h"
#include "service/rooms/room_service.h"
#include "service/rooms/room_writer.h"
#include "storage/event_store.h"
#include "test_support.h"

namespace despatch::test {

namespace asio = boost::asio;

inline constexpr const char* kAlice = "@alice:test";

class RoomServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_lanes_test");
    config_.server_name = "test";
    config_.data_dir = dir_.string();
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    push_ = std::make_unique<PushService>(*db_, notifier_);
    archive_ = std::make_unique<Archive>(*db_, key_, records_keys_.public_key, 0);
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
  RecordsKeyPair records_keys_ = RecordsKeyPair::generate();  // opens the archive in tests
  std::unique_ptr<storage::Database> db_;
  Notifier notifier_;
  std::unique_ptr<PushService> push_;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<RoomService> rooms_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::vector<std::thread> threads_;
};

}  // namespace despatch::test
