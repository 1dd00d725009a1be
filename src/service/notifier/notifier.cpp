#include "service/notifier/notifier.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;

boost::asio::awaitable<void> Notifier::wait(const std::string& user_id, uint64_t since_serial,
                                            std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto w = std::make_shared<Waiter>(Waiter{std::make_shared<asio::steady_timer>(ex, timeout)});
  {
    std::lock_guard lock(mu_);
    auto& u = users_[user_id];
    if (u.serial + global_serial_ != since_serial) co_return;
    u.waiters.push_back(w);
    ++parked_;
  }
  co_await w->timer->async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lock(mu_);
  auto it = users_.find(user_id);
  if (it != users_.end()) {
    auto& ws = it->second.waiters;
    ws.erase(std::remove(ws.begin(), ws.end(), w), ws.end());
  }
  --parked_;
}

void Notifier::wake(const std::shared_ptr<Waiter>& w) {
  if (w->woken) return;
  w->woken = true;
  asio::post(w->timer->get_executor(), [t = w->timer] { t->cancel(); });
}

void Notifier::notify_users(const std::vector<std::string>& user_ids) {
  std::lock_guard lock(mu_);
  for (auto& id : user_ids) {
    auto& u = users_[id];
    ++u.serial;
    for (auto& w : u.waiters) wake(w);
  }
}

void Notifier::notify_all() {
  std::lock_guard lock(mu_);
  ++global_serial_;
  for (auto& [id, u] : users_)
    for (auto& w : u.waiters) wake(w);
}

uint64_t Notifier::serial(const std::string& user_id) {
  std::lock_guard lock(mu_);
  return users_[user_id].serial + global_serial_;
}

size_t Notifier::parked() const {
  std::lock_guard lock(mu_);
  return parked_;
}

}  // namespace despatch
