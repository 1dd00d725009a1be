// History from before this server joined a room (server-server spec "Backfilling and
// retrieving missing events"): when a client pages back past the oldest events this server
// holds, the older ones are asked of a server in the room with /backfill, each checked like a
// received PDU (signatures, content hash, size) and judged against its auth events, then
// placed in the room's history by RoomService::take_history.
#pragma once

#include "core/config.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "service/rooms/room_service.h"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace despatch {

class FederationBackfill {
 public:
  FederationBackfill(const Config& config, FederationSender& sender, ServerKeys& keys, RoomService& rooms)
      : config_(config), sender_(sender), keys_(keys), rooms_(rooms), allow_(config.federation.allow) {}

  // Before a backwards /messages page of `limit` events from stream position `from`: when
  // this server holds fewer than that there and the room's history goes on elsewhere, fetches
  // the older events. Failures are logged, never the client's: the page shows what is held.
  boost::asio::awaitable<void> before_page(const std::string& room_id, int64_t from, int limit);

 private:
  boost::asio::awaitable<Result<int>> fetch(const std::string& server, const std::string& room_id,
                                            const std::string& version, const std::vector<std::string>& from,
                                            int limit);
  const Config& config_;
  FederationSender& sender_;
  ServerKeys& keys_;
  RoomService& rooms_;
  ServerAllowList allow_;
  std::mutex mu_;
  // Rooms whose last fetch brought nothing: the extremities asked for and when.
  std::map<std::string, std::pair<std::vector<std::string>, std::chrono::steady_clock::time_point>> exhausted_;
};

}  // namespace despatch
