// Joining a room of another server (server-server API "Joining Rooms"): make_join for a
// template, the join signed here, send_join (v2) for the room's state and auth chain, every
// event of it checked, then the room taken in by the rooms service.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "service/federation/backfill.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "service/rooms/room_service.h"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace despatch {

class FederationJoins {
 public:
  FederationJoins(const Config& config, const SigningKey& key, FederationSender& sender, ServerKeys& keys,
                  RoomService& rooms)
      : config_(config), key_(key), sender_(sender), keys_(keys), rooms_(rooms) {}

  // Events of history fetched right after a join.
  static constexpr int kHistoryAtJoin = 50;
  void set_backfill(FederationBackfill* backfill) { backfill_ = backfill; }

  // Joins user (local) to room_id through the first of `via` that lets them in.
  boost::asio::awaitable<Result<std::string>> join(const std::string& user, const std::string& room_id,
                                                   std::vector<std::string> via);

 private:
  boost::asio::awaitable<Result<std::string>> join_via(const std::string& server, const std::string& user,
                                                       const std::string& room_id);
  const Config& config_;
  const SigningKey& key_;
  FederationSender& sender_;
  ServerKeys& keys_;
  RoomService& rooms_;
  FederationBackfill* backfill_ = nullptr;
};

}  // namespace despatch
