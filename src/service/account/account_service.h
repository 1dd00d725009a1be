// Per-user data: account data (global and per room, tags included), stored filters,
// receipts and read markers.
#pragma once

#include "service/notifier/notifier.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

namespace despatch {

class AccountService {
 public:
  using MembersFn = std::function<std::vector<std::string>(const std::string& room_id)>;
  AccountService(storage::Database& db, Notifier& notifier, MembersFn members)
      : db_(db), notifier_(notifier), members_(std::move(members)) {}

  // room_id "" means global account data.
  boost::asio::awaitable<Status> put_account_data(const std::string& user,
                                                  const std::string& room_id,
                                                  const std::string& type, json::object content);
  Result<json::object> get_account_data(const std::string& user, const std::string& room_id,
                                        const std::string& type);

  boost::asio::awaitable<Result<std::string>> create_filter(const std::string& user,
                                                            const json::object& filter);
  Result<std::optional<json::value>> get_filter(const std::string& user, std::string_view id);

  // Called after a receipt is stored (local and remote users alike): federation passes
  // local users' public receipts on to the room's other servers. Set before serving.
  using ReceiptListener = std::function<void(const std::string& user, const std::string& room_id,
                                             const std::string& receipt_type, const std::string& event_id,
                                             const std::string& thread_id, int64_t ts)>;
  void set_receipt_listener(ReceiptListener l) { receipt_listener_ = std::move(l); }

  // Stores a receipt (m.read, m.read.private) for an event of the room the user is in.
  boost::asio::awaitable<Status> put_receipt(const std::string& user, const std::string& room_id,
                                             const std::string& receipt_type,
                                             const std::string& event_id,
                                             const std::string& thread_id);

 private:
  storage::Database& db_;
  Notifier& notifier_;
  MembersFn members_;
  ReceiptListener receipt_listener_;
};

}  // namespace despatch
