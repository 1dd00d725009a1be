// What the rooms service keeps of memberships that cross servers: an invite of ours that the
// invitee's server countersigned, and local users' invites, knocks and rejections of rooms
// this server is not in (kept outside any room, for /sync, until the user joins).
#include "service/rooms/room_service.h"

#include "core/ids.h"
#include "service/rooms/room_writer.h"
#include "storage/user_store.h"

namespace despatch {

namespace asio = boost::asio;

asio::awaitable<Result<std::string>> RoomService::take_own_event(const std::string& room_id, json::object pdu) {
  auto job = [room_id, pdu = std::move(pdu)](RoomWriter& w) -> Result<std::string> {
    DS_ASSIGN(Received r, w.receive_own(room_id, pdu));
    if (r.verdict != Acceptance::kAccepted && !r.duplicate) return Error::forbidden("The event was refused: " + r.reason);
    return r.event_id;
  };
  co_return co_await room_job<std::string>(room_id, job);
}

Result<std::optional<storage::RemoteMembershipRow>> RoomService::remote_membership(const std::string& user,
                                                                                   const std::string& room_id) {
  return db_.read().remote_memberships().get(user, room_id);
}

Result<bool> RoomService::user_active(const std::string& user) { return db_.read().users().is_active(user); }

asio::awaitable<Status> RoomService::put_remote_membership(storage::RemoteMembershipRow row) {
  std::string user = row.user_id;
  auto job = [row = std::move(row)](storage::Txn& t) -> Status {
    return t.remote_memberships().put(row, t.next_stream_pos());
  };
  auto st = co_await db_.transact<Ok>(job);
  if (st.ok()) notifier_.notify_users({user});
  co_return st;
}

asio::awaitable<Result<std::string>> RoomService::knock(const std::string& user, const std::string& room_id_or_alias,
                                                        std::optional<std::string> reason,
                                                        std::vector<std::string> via) {
  std::string room_id = room_id_or_alias;
  if (!room_id.empty() && room_id[0] == '#') {
    auto r = resolve_alias(room_id);
    if (!r.ok()) co_return r.error();
    room_id = *r;
  } else if (!is_valid_room_id(room_id)) {
    co_return Error::invalid_param("Not a room ID or alias: " + room_id);
  }
  if (remote_ && !room_version(room_id).ok()) {
    std::string home(server_name_of(room_id));
    if (!home.empty() && home != config_.server_name && std::find(via.begin(), via.end(), home) == via.end())
      via.push_back(home);
    co_return co_await remote_->knock(user, room_id, reason, std::move(via));
  }
  auto r = co_await set_membership(user, room_id, user, "knock", reason);
  if (!r.ok()) co_return r.error();
  co_return room_id;
}

}  // namespace despatch
