// Reports from users (client-server "Reporting content", spec 1.13 and 1.14): a room, an
// event in a room the reporter is joined to, or a user, with a reason. Each is stored,
// written to the audit log and listed for the administrators, who acknowledge it with a note.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "core/config.h"
#include "storage/database.h"
#include "storage/report_store.h"

namespace despatch {

class ReportService {
 public:
  explicit ReportService(storage::Database& db) : db_(db) {}

  // M_NOT_FOUND for a room this server does not know.
  boost::asio::awaitable<Status> report_room(std::string reporter, std::string room_id,
                                             std::string reason);
  // M_NOT_FOUND when the event is not in the room or the reporter is not joined to it.
  boost::asio::awaitable<Status> report_event(std::string reporter, std::string room_id,
                                              std::string event_id, std::string reason);
  // M_NOT_FOUND for a local user with no account; users of other servers are taken as named.
  boost::asio::awaitable<Status> report_user(std::string reporter, std::string user_id,
                                             std::string reason);

  // Newest first: {"reports": [...], "next_before": id} (next_before only when more remain).
  Result<boost::json::object> list(bool include_acknowledged, int64_t before, int64_t limit);
  // Acknowledges an open report with the administrator's note (audited). M_NOT_FOUND for an
  // unknown report; M_INVALID_PARAM for one acknowledged already.
  boost::asio::awaitable<Status> acknowledge(std::string admin, int64_t id, std::string note);

  static constexpr size_t kMaxReasonBytes = 4096;

 private:
  boost::asio::awaitable<Status> store(storage::Report report);
  storage::Database& db_;
};

}  // namespace despatch
