// /sync: assembles what changed for a user between two stream positions, and parks the
// request on the notifier until something does or the timeout passes.
#pragma once

#include "service/keys/key_service.h"
#include "service/push/push_service.h"
#include "service/rooms/room_service.h"
#include "service/sync/filter.h"
#include "service/sync/presence.h"
#include "service/sync/typing.h"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace despatch {

struct SyncRequest {
  std::string user_id, device_id;
  std::string since;  // empty: initial sync
  // Shared and immutable: a parked /sync should not carry a 1 KiB filter of its own when it
  // uses the default one.
  std::shared_ptr<const Filter> filter = default_filter();
  bool full_state = false;
  int64_t timeout_ms = 0;
  std::string set_presence = "online";  // online, offline or unavailable (checked by the caller)

  static const std::shared_ptr<const Filter>& default_filter();
};

// Parsed next_batch token: "s<stream_pos>_<typing serial>_<to-device position>_<presence serial>".
// The to-device part is the newest to-device message delivered: a sync from this token
// acknowledges it. Shorter tokens (from before a part existed) read the missing parts as 0.
struct SyncToken {
  int64_t pos = 0;
  uint64_t typing = 0;
  int64_t to_device = 0;
  uint64_t presence = 0;
  static std::optional<SyncToken> parse(std::string_view s);
  std::string str() const;
};

class SyncService {
 public:
  SyncService(RoomService& rooms, Notifier& notifier, Typing& typing, Presence& presence, PushService& push,
              KeyService& keys)
      : rooms_(rooms), notifier_(notifier), typing_(typing), presence_(presence), push_(push), keys_(keys) {}

  boost::asio::awaitable<Result<json::object>> sync(const SyncRequest& req);

  // Whether a user's device still has an open session (UserService::check_session). A
  // parked request asks each time it wakes, so a leaver's or a locked user's long-polls end
  // with the error as soon as their account change is committed and they are woken.
  using SessionCheck = std::function<Status(const std::string& user_id, const std::string& device_id)>;
  void set_session_check(SessionCheck fn) { session_check_ = std::move(fn); }

  // Users who share a room with room_id's members, for waking on receipts and typing.
  std::vector<std::string> joined_members(const std::string& room_id);

  // The deprecated event stream and snapshots (old_sync.cpp), still in the spec.
  // GET /events: what reached the user after `from` (now when empty), oldest first, at
  // most limit room events; with room_id, that one room (a world_readable one may be
  // read without joining). Parks like /sync until something arrives or the timeout passes.
  boost::asio::awaitable<Result<json::object>> events(const std::string& user, const std::string& device,
                                                      const std::string& from, const std::string& room_id, int limit,
                                                      int64_t timeout_ms);
  // GET /initialSync: every room of the user with its state and last `limit` messages.
  Result<json::object> initial_sync(const std::string& user, int limit, bool archived);
  // GET /rooms/{roomId}/initialSync: one room, for a member, former member or any reader
  // of a world_readable room.
  Result<json::object> room_initial_sync(const std::string& user, const std::string& room_id, int limit);

 private:
  // Builds the response for (since, upto]; sets *empty when nothing changed.
  Result<json::object> build(const SyncRequest& req, const std::optional<SyncToken>& since,
                             const SyncToken& upto, bool* empty);
  Result<json::object> joined_room(storage::Stores& s, const SyncRequest& req,
                                   const std::string& room_id, int64_t member_pos,
                                   const std::optional<SyncToken>& since, const SyncToken& upto,
                                   bool* empty);
  Result<json::object> left_room(storage::Stores& s, const SyncRequest& req,
                                 const std::string& room_id, int64_t leave_pos,
                                 const std::optional<SyncToken>& since);
  // Invites, knocks and rejections of rooms this server is not in (RemoteMembershipStore).
  Status add_remote_memberships(storage::Stores& s, const SyncRequest& req, const std::optional<SyncToken>& since,
                                const SyncToken& upto, json::object& invite, json::object& knock,
                                json::object& leave, bool* empty);
  // m.presence events of the user and those sharing a room with them, changed since the token.
  Result<json::array> presence_events(storage::Stores& s, const SyncRequest& req,
                                      const std::optional<SyncToken>& since);
  Result<json::object> invite_state(storage::Stores& s, const std::string& room_id,
                                    const std::string& user);
  // old_sync.cpp: one batch of the event stream, and one room's snapshot up to `upper`.
  Result<json::object> stream_batch(storage::Stores& s, const std::string& user, const SyncToken& from,
                                    const SyncToken& upto, const std::string& only_room, int limit, bool* empty);
  Result<json::object> room_snapshot(storage::Stores& s, const std::string& user, const std::string& room_id,
                                     const std::string& membership, int64_t upper, int limit);

  RoomService& rooms_;
  Notifier& notifier_;
  SessionCheck session_check_;
  Typing& typing_;
  Presence& presence_;
  PushService& push_;
  KeyService& keys_;
};

}  // namespace despatch
