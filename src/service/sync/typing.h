// Typing notifications: in memory only (the spec makes them ephemeral), with a serial that
// sync tokens carry so incremental syncs see changes.
#pragma once

#include "service/notifier/notifier.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace despatch {

class Typing {
 public:
  // members(room) names who to wake when a room's typing set changes.
  Typing(boost::asio::io_context& io, Notifier& notifier,
         std::function<std::vector<std::string>(const std::string& room_id)> members)
      : io_(io), notifier_(notifier), members_(std::move(members)) {}

  void set(const std::string& room_id, const std::string& user_id, bool typing,
           std::chrono::milliseconds timeout);
  // Called on every set (after it took effect), for local and remote users alike: federation
  // passes local users' typing on to the room's other servers. Set before serving.
  using Listener = std::function<void(const std::string& room_id, const std::string& user_id, bool typing)>;
  void set_listener(Listener l) { listener_ = std::move(l); }
  uint64_t serial() const;
  // Users typing now in room_id, and the serial of the room's last change.
  std::vector<std::string> typing_in(const std::string& room_id, uint64_t* changed_serial) const;

 private:
  void expire(const std::string& room_id);
  boost::asio::io_context& io_;
  Notifier& notifier_;
  std::function<std::vector<std::string>(const std::string&)> members_;
  Listener listener_;
  mutable std::mutex mu_;
  uint64_t serial_ = 0;
  struct RoomTyping {
    std::map<std::string, std::chrono::steady_clock::time_point> until;
    uint64_t serial = 0;
  };
  std::unordered_map<std::string, RoomTyping> rooms_;
};

}  // namespace despatch
