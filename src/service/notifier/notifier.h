// Wakes parked /sync long-polls when something they may care about changes.
// A waiter registers for a user; writers call notify_users after their commit.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace despatch {

class Notifier {
 public:
  // Parks until notify_users names user_id or the timeout passes. Returns immediately if the
  // user was notified after `since_serial` (see serial()), so no wake-up is lost between a
  // sync's read and its park.
  boost::asio::awaitable<void> wait(const std::string& user_id, uint64_t since_serial,
                                    std::chrono::milliseconds timeout);
  void notify_users(const std::vector<std::string>& user_ids);
  void notify_all();
  // A counter that moves on every notification of user_id.
  uint64_t serial(const std::string& user_id);
  size_t parked() const;

 private:
  // The timer is cancelled through a post to the waiter's executor, which must be a strand:
  // that orders the cancel after the wait has started, so an early wake is never lost.
  struct Waiter {
    std::shared_ptr<boost::asio::steady_timer> timer;
    bool woken = false;
  };
  static void wake(const std::shared_ptr<Waiter>& w);
  struct UserState {
    uint64_t serial = 0;
    std::vector<std::shared_ptr<Waiter>> waiters;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, UserState> users_;
  uint64_t global_serial_ = 0;
  size_t parked_ = 0;
};

}  // namespace despatch
