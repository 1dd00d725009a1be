#include "service/account/account_service.h"

#include "service/common/time.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;

asio::awaitable<Status> AccountService::put_account_data(const std::string& user,
                                                         const std::string& room_id,
                                                         const std::string& type,
                                                         json::object content) {
  auto job = [=, this](Conn& c) -> Status {
    if (!room_id.empty()) {
      DS_ASSIGN(auto m, storage::query_one(c, "SELECT 1 FROM memberships WHERE room_id=? AND user_id=?",
                                           {room_id, user}));
      if (!m) return Error::forbidden("You are not in this room");
    }
    return c.exec("INSERT INTO account_data(user_id, room_id, type, content, stream_pos) "
                  "VALUES(?,?,?,?,?) ON CONFLICT(user_id, room_id, type) DO UPDATE SET "
                  "content=excluded.content, stream_pos=excluded.stream_pos",
                  {user, room_id, type, json::serialize(content), db_.next_stream_pos()});
  };
  auto r = co_await db_.write<Ok>(job);
  if (r.ok()) notifier_.notify_users({user});
  co_return r;
}

Result<json::object> AccountService::get_account_data(const std::string& user,
                                                      const std::string& room_id,
                                                      const std::string& type) {
  DS_ASSIGN(auto row, storage::query_one(
                          db_.reader(),
                          "SELECT content FROM account_data WHERE user_id=? AND room_id=? AND type=?",
                          {user, room_id, type}));
  if (!row) return Error::not_found("Account data not found");
  boost::system::error_code ec;
  auto v = json::parse(row->str(0), ec);
  if (ec || !v.is_object()) return Error::internal("corrupt account data");
  return v.as_object();
}

asio::awaitable<Result<std::string>> AccountService::create_filter(const std::string& user,
                                                                   const json::object& filter) {
  auto job = [=](Conn& c) -> Result<std::string> {
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id=?",
                                           {user}));
    int64_t id = row->i64(0);
    DS_TRY(c.exec("INSERT INTO filters(user_id, filter_id, json) VALUES(?,?,?)",
                  {user, id, json::serialize(filter)}));
    return std::to_string(id);
  };
  co_return co_await db_.write<std::string>(job);
}

Result<std::optional<json::value>> AccountService::get_filter(const std::string& user,
                                                              std::string_view id) {
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string_view::npos)
    return std::optional<json::value>{};
  DS_ASSIGN(auto row, storage::query_one(db_.reader(),
                                         "SELECT json FROM filters WHERE user_id=? AND filter_id=?",
                                         {user, static_cast<int64_t>(std::stoll(std::string(id)))}));
  if (!row) return std::optional<json::value>{};
  return std::optional<json::value>(json::parse(row->str(0)));
}

asio::awaitable<Status> AccountService::put_receipt(const std::string& user,
                                                    const std::string& room_id,
                                                    const std::string& receipt_type,
                                                    const std::string& event_id,
                                                    const std::string& thread_id) {
  auto job = [=, this](Conn& c) -> Status {
    DS_ASSIGN(auto m, storage::query_one(c, "SELECT membership FROM memberships WHERE room_id=? AND user_id=?",
                                         {room_id, user}));
    if (!m || m->str(0) != "join") return Error::forbidden("You are not in this room");
    DS_ASSIGN(auto ev, storage::query_one(c, "SELECT stream_pos FROM events WHERE event_id=? AND room_id=?",
                                          {event_id, room_id}));
    if (!ev) return Error::not_found("Event not found in this room");
    DS_ASSIGN(auto old, storage::query_one(c, "SELECT event_pos FROM receipts WHERE room_id=? AND user_id=? "
                                              "AND receipt_type=? AND thread_id=?",
                                           {room_id, user, receipt_type, thread_id}));
    // Receipts only move forward: an older read receipt must not resurrect unread counts.
    if (old && old->i64(0) >= ev->i64(0)) return ok_status();
    return c.exec("INSERT INTO receipts(room_id, user_id, receipt_type, thread_id, event_id, event_pos, "
                  "ts, stream_pos) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(room_id, user_id, receipt_type, "
                  "thread_id) DO UPDATE SET event_id=excluded.event_id, event_pos=excluded.event_pos, "
                  "ts=excluded.ts, stream_pos=excluded.stream_pos",
                  {room_id, user, receipt_type, thread_id, event_id, ev->i64(0), now_ms(),
                   db_.next_stream_pos()});
  };
  auto r = co_await db_.write<Ok>(job);
  if (r.ok()) notifier_.notify_users(receipt_type == "m.read.private" ? std::vector<std::string>{user}
                                                                      : members_(room_id));
  co_return r;
}

}  // namespace despatch
