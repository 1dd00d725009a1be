// Memberships across servers beyond joins (server-server API "Inviting to a room", "Leaving
// Rooms (Rejecting Invites)", "Knocking upon a room"). As the inviter's server: the invite
// signed here, countersigned by the invitee's server (v2 /invite), then taken into the room.
// As the user's server: an incoming invite checked, countersigned and kept outside any room;
// an invite rejected or a knock made through make_leave/send_leave, make_knock/send_knock.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "service/rooms/room_service.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

namespace despatch {

class FederationMemberships final : public RemoteMembers {
 public:
  FederationMemberships(const Config& config, const SigningKey& key, FederationSender& sender, ServerKeys& keys,
                        RoomService& rooms)
      : config_(config), key_(key), sender_(sender), keys_(keys), rooms_(rooms) {}

  // RemoteMembers: what a local user does that needs another server.
  boost::asio::awaitable<Result<std::string>> invite(const std::string& sender, const std::string& room_id,
                                                     const std::string& target, json::object content) override;
  boost::asio::awaitable<Result<std::string>> leave(const std::string& user, const std::string& room_id,
                                                    std::optional<std::string> reason) override;
  boost::asio::awaitable<Result<std::string>> knock(const std::string& user, const std::string& room_id,
                                                    std::optional<std::string> reason,
                                                    std::vector<std::string> via) override;

  // PUT /_matrix/federation/v2/invite: origin invites a local user; the answer's body
  // ({"event": countersigned}).
  boost::asio::awaitable<Result<json::object>> receive_invite(const std::string& origin, const std::string& room_id,
                                                              const std::string& event_id, const json::object& body);

 private:
  // What make_X and send_X through one server gave: the event as sent, its ID, the room's
  // version and send_X's answer.
  struct Sent {
    json::object event;
    std::string event_id, room_version;
    json::value answer;
  };
  boost::asio::awaitable<Result<Sent>> make_and_send(const std::string& server, const std::string& user,
                                                     const std::string& room_id, const std::string& membership,
                                                     std::optional<std::string> reason);
  const Config& config_;
  const SigningKey& key_;
  FederationSender& sender_;
  ServerKeys& keys_;
  RoomService& rooms_;
};

}  // namespace despatch
