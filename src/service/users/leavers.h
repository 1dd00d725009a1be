// Leavers: the one path every deactivation takes (the admin APIs, SCIM, `despatch user
// deactivate`, the user's own request). First the cut-off, in one commit: tokens dead,
// devices and keys gone (the other members hear of the device list change), every parked
// request of the user answered with M_UNKNOWN_TOKEN. Then the user's pending invites are
// withdrawn and they leave every room. Nothing they wrote leaves the records archive.
//
// The account changes log ties processes together: `despatch user` (another process) makes
// only the cut-off's store changes and logs them; the running server follows the log every
// 100 ms, drops the user's cached sessions, wakes their parked requests (which re-check their
// session and end) and carries out what the log says is still to do.
#pragma once

#include "service/rooms/room_service.h"
#include "service/users/user_service.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <mutex>
#include <set>
#include <string>

namespace despatch {

struct LeaverOutcome {
  int64_t change_seq = 0;
  int invites_withdrawn = 0;
};

class Leavers {
 public:
  Leavers(UserService& users, RoomService& rooms, storage::Database& db, std::string keeper_user);

  // Deactivates a local account (M_NOT_FOUND for an unknown one, M_FORBIDDEN for the
  // records keeper) and completes when the user has left every room.
  boost::asio::awaitable<Result<LeaverOutcome>> deactivate(const std::string& user_id, bool erase, AccountActor by);

  // Follows the account changes log on io every 100 ms; first carries out changes a
  // previous run or another process left undone.
  void start(boost::asio::io_context& io);
  // One look at the log (what start runs on its timer; tests call it directly).
  boost::asio::awaitable<void> poll();

 private:
  // Devices (none left when this process made the cut-off), invites, rooms; then marks the
  // change done.
  boost::asio::awaitable<int> follow_through(const std::string& user_id, int64_t seq);

  UserService& users_;
  RoomService& rooms_;
  storage::Database& db_;
  std::string keeper_user_;
  std::mutex mu_;
  std::set<std::string> in_flight_;  // users whose deactivation this process is carrying out
  int64_t seen_ = 0;                 // the last account change seq looked at
};

}  // namespace despatch
