// A lane per room: the jobs that write to one room run one batch at a time, in order, while
// other rooms' lanes run beside them. A batch is every job waiting when the lane takes the
// next: they are prepared one after another on the lane (RoomWriter: auth rules, hashing,
// signing, push rules), then written in one job of the database's group commit. So a slow
// room, or a long preparation, delays that room alone, and a busy room commits many events
// per fsync.
#pragma once

#include "core/result.h"
#include "service/rooms/room_cache.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace despatch {

class RoomWriter;
class RoomService;
class Notifier;
namespace storage {
class Database;
}

class RoomLanes {
 public:
  struct Job {
    // Prepares the job's events; an error fails this job alone.
    std::function<Status(RoomWriter&)> prepare;
    // Called once, after the batch's commit: with the job's error (its preparation's, else
    // the commit's), or nullptr when what it prepared is durable.
    std::function<void(const Error*)> finish;
  };

  RoomLanes(RoomService& rooms, storage::Database& db, Notifier& notifier)
      : rooms_(rooms), db_(db), notifier_(notifier) {}

  // Queues job on room_id's lane, which runs on ex when it was idle.
  void submit(const std::string& room_id, const boost::asio::any_io_executor& ex, Job job);
  // Runs job at once on this thread, blocking until it is durable. Only while nothing else
  // writes to rooms (start-up, before serving); M_UNKNOWN if the room's lane is busy.
  void run_blocking(const std::string& room_id, Job job);

 private:
  // A drain touches nothing of RoomLanes after finishing its last job but the lane, which it
  // holds: so the lanes may go (a test's, say) as soon as their last job has finished.
  struct Lane {
    std::mutex mu;
    std::deque<Job> queue;
    bool active = false;
    std::shared_ptr<RoomCache> cache;
  };
  boost::asio::awaitable<void> drain(std::string room_id, std::shared_ptr<Lane> lane);
  std::shared_ptr<Lane> lane(const std::string& room_id);  // with mu_ held

  RoomService& rooms_;
  storage::Database& db_;
  Notifier& notifier_;
  std::mutex mu_;  // guards lanes_ (each lane's queue has its own)
  std::unordered_map<std::string, std::shared_ptr<Lane>> lanes_;
};

}  // namespace despatch
