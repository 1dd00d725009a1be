#include "service/account/account_service.h"

#include "service/common/time.h"
#include "storage/account_data_store.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/receipt_store.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

asio::awaitable<Status> AccountService::put_account_data(const std::string& user,
                                                         const std::string& room_id,
                                                         const std::string& type,
                                                         json::object content) {
  auto job = [=](Txn& t) -> Status {
    if (!room_id.empty()) {
      DS_ASSIGN(auto m, t.memberships().membership(room_id, user));
      if (!m) return Error::forbidden("You are not in this room");
    }
    return t.account_data().put(user, room_id, type, content, t.next_stream_pos());
  };
  auto r = co_await db_.transact<Ok>(job);
  if (r.ok()) notifier_.notify_users({user});
  co_return r;
}

Result<json::object> AccountService::get_account_data(const std::string& user,
                                                      const std::string& room_id,
                                                      const std::string& type) {
  DS_ASSIGN(auto content, db_.read().account_data().get(user, room_id, type));
  if (!content) return Error::not_found("Account data not found");
  return std::move(*content);
}

asio::awaitable<Result<std::string>> AccountService::create_filter(const std::string& user,
                                                                   const json::object& filter) {
  auto job = [=](Txn& t) -> Result<std::string> {
    DS_ASSIGN(int64_t id, t.account_data().add_filter(user, filter));
    return std::to_string(id);
  };
  co_return co_await db_.transact<std::string>(job);
}

Result<std::optional<json::value>> AccountService::get_filter(const std::string& user,
                                                              std::string_view id) {
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string_view::npos)
    return std::optional<json::value>{};
  return db_.read().account_data().filter(user, static_cast<int64_t>(std::stoll(std::string(id))));
}

asio::awaitable<Status> AccountService::put_receipt(const std::string& user,
                                                    const std::string& room_id,
                                                    const std::string& receipt_type,
                                                    const std::string& event_id,
                                                    const std::string& thread_id) {
  int64_t ts = now_ms();
  bool stored = false;
  auto job = [=, &stored](Txn& t) -> Status {
    DS_ASSIGN(auto m, t.memberships().membership(room_id, user));
    if (!m || *m != "join") return Error::forbidden("You are not in this room");
    DS_ASSIGN(auto pos, t.events().stream_pos_of(event_id, room_id));
    if (!pos) return Error::not_found("Event not found in this room");
    DS_ASSIGN(auto old, t.receipts().receipt(room_id, user, receipt_type, thread_id));
    // Receipts only move forward: an older read receipt must not resurrect unread counts.
    if (old && old->event_pos >= *pos) return ok_status();
    stored = true;
    return t.receipts().put_receipt({room_id, user, receipt_type, thread_id, event_id, *pos, ts},
                                    t.next_stream_pos());
  };
  auto r = co_await db_.transact<Ok>(job);
  if (r.ok()) notifier_.notify_users(receipt_type == "m.read.private" ? std::vector<std::string>{user}
                                                                      : members_(room_id));
  if (r.ok() && stored && receipt_listener_) receipt_listener_(user, room_id, receipt_type, event_id, thread_id, ts);
  co_return r;
}

}  // namespace despatch
