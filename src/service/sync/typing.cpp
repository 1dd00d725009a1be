#include "service/sync/typing.h"

#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace despatch {

void Typing::set(const std::string& room_id, const std::string& user_id, bool typing,
                 std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  bool changed;
  {
    std::lock_guard lock(mu_);
    auto& r = rooms_[room_id];
    auto it = r.until.find(user_id);
    changed = typing ? it == r.until.end() : it != r.until.end();
    if (typing) r.until[user_id] = until;
    else if (it != r.until.end()) r.until.erase(it);
    if (changed) r.serial = ++serial_;
  }
  if (typing) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, timeout + std::chrono::milliseconds(5));
    timer->async_wait([this, timer, room_id](boost::system::error_code ec) {
      if (!ec) expire(room_id);
    });
  }
  if (changed) notifier_.notify_users(members_(room_id));
  if (listener_) listener_(room_id, user_id, typing);
}

void Typing::expire(const std::string& room_id) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    auto rit = rooms_.find(room_id);
    if (rit == rooms_.end()) return;
    auto now = std::chrono::steady_clock::now();
    for (auto it = rit->second.until.begin(); it != rit->second.until.end();) {
      if (it->second <= now) {
        it = rit->second.until.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (changed) rit->second.serial = ++serial_;
  }
  if (changed) notifier_.notify_users(members_(room_id));
}

uint64_t Typing::serial() const {
  std::lock_guard lock(mu_);
  return serial_;
}

std::vector<std::string> Typing::typing_in(const std::string& room_id, uint64_t* changed) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto it = rooms_.find(room_id);
  *changed = it == rooms_.end() ? 0 : it->second.serial;
  if (it == rooms_.end()) return out;
  for (auto& [u, t] : it->second.until) out.push_back(u);
  return out;
}

}  // namespace despatch
