#include "service/users/leavers.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "storage/account_change_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace despatch {

namespace asio = boost::asio;

namespace {
constexpr auto kPollEvery = std::chrono::milliseconds(100);
}  // namespace

Leavers::Leavers(UserService& users, RoomService& rooms, storage::Database& db, std::string keeper_user)
    : users_(users), rooms_(rooms), db_(db), keeper_user_(std::move(keeper_user)) {
  auto last = db_.read().account_changes().last_seq();
  seen_ = last.ok() ? *last : 0;
}

asio::awaitable<Result<LeaverOutcome>> Leavers::deactivate(const std::string& user_id, bool erase, AccountActor by) {
  if (!is_valid_user_id(user_id) || server_name_of(user_id) != users_.config().server_name)
    co_return Error::invalid_param("Not a user of this server: " + user_id);
  if (!keeper_user_.empty() && user_id == keeper_user_)
    co_return Error::forbidden("The records keeper cannot be deactivated; set [records] keeper = false instead");
  DS_CO_ASSIGN(bool exists, users_.user_exists(user_id));
  if (!exists) co_return Error::not_found("Unknown user");
  {
    std::lock_guard lock(mu_);
    in_flight_.insert(user_id);
  }
  LeaverOutcome out;
  auto seq = co_await users_.deactivate(user_id, erase, by);
  if (seq.ok()) {
    out.change_seq = *seq;
    out.invites_withdrawn = co_await follow_through(user_id, *seq);
  }
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(user_id);
  }
  if (!seq.ok()) co_return seq.error();
  co_return out;
}

asio::awaitable<int> Leavers::follow_through(const std::string& user_id, int64_t seq) {
  // Devices left by a cut-off made elsewhere (it could not write device list changes).
  auto st = co_await users_.logout_all(user_id);
  if (!st.ok()) DS_LOG(kWarn, "leaver {}: removing devices failed: {}", user_id, st.error().message);
  int withdrawn = co_await rooms_.withdraw_invites_by(user_id);
  co_await rooms_.leave_all(user_id);
  auto job = [seq](storage::Txn& t) -> Status { return t.account_changes().mark_done(seq, now_ms()); };
  auto done = co_await db_.transact<Ok>(job);
  if (!done.ok()) DS_LOG(kWarn, "leaver {}: marking change {} done failed: {}", user_id, seq, done.error().message);
  co_return withdrawn;
}

asio::awaitable<void> Leavers::poll() {
  auto changes = db_.read().account_changes().after(seen_, 100);
  if (!changes.ok()) {
    DS_LOG(kWarn, "account changes log: {}", changes.error().message);
    co_return;
  }
  for (auto& c : *changes) {
    seen_ = std::max(seen_, c.seq);
    // Cheap and idempotent: also done for the changes this process made itself.
    users_.forget_sessions(c.user_id);
    users_.wake(c.user_id);
    if (c.action != "deactivate" || c.done_ts) continue;
    {
      std::lock_guard lock(mu_);
      if (!in_flight_.insert(c.user_id).second) continue;  // this process is on it
    }
    DS_LOG(kInfo, "leaver {}: deactivated by {}; leaving their rooms", c.user_id, c.actor);
    // On its own, so that a leaver in many rooms holds up no one else's change.
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [this, user = c.user_id, seq = c.seq]() -> asio::awaitable<void> {
          co_await follow_through(user, seq);
          std::lock_guard lock(mu_);
          in_flight_.erase(user);
        },
        asio::detached);
  }
}

void Leavers::start(asio::io_context& io) {
  asio::co_spawn(
      io,
      [this, &io]() -> asio::awaitable<void> {
        // Deactivations a previous run or a stopped server's command line left unfinished.
        auto pending = db_.read().account_changes().pending(1000);
        if (pending.ok()) {
          for (auto& c : *pending) {
            if (c.action != "deactivate") continue;
            {
              std::lock_guard lock(mu_);
              if (!in_flight_.insert(c.user_id).second) continue;
            }
            users_.forget_sessions(c.user_id);
            co_await follow_through(c.user_id, c.seq);
            std::lock_guard lock(mu_);
            in_flight_.erase(c.user_id);
          }
        }
        asio::steady_timer timer(io);
        for (;;) {
          timer.expires_after(kPollEvery);
          auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
          co_await poll();
        }
      },
      asio::detached);
}

}  // namespace despatch
