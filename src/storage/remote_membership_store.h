// Memberships of local users in rooms this server is not in: an invite another server sent
// (kept as an outlier with the stripped state it came with), a knock this server sent for
// its user, and the leave that rejected either. /sync shows them under rooms.invite,
// rooms.knock and rooms.leave until the user joins the room (and this server with them).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct RemoteMembershipRow {
  std::string user_id, room_id;
  std::string membership;      // "invite", "knock" or "leave"
  std::string event_id;
  std::string event;           // the member event (PDU with event_id), JSON
  std::string room_version;
  std::string stripped_state;  // JSON array of stripped state events
  std::string via;             // the server that sent or answered it
  int64_t stream_pos = 0;      // set by put
};

class RemoteMembershipStore {
 public:
  virtual ~RemoteMembershipStore() = default;
  // remote_memberships: (user_id, room_id) -> the row; replaces the user's row of the room,
  // at a new stream position.
  virtual Status put(const RemoteMembershipRow& row, int64_t stream_pos) = 0;
  virtual Result<std::optional<RemoteMembershipRow>> get(const std::string& user, const std::string& room_id) = 0;
  virtual Status remove(const std::string& user, const std::string& room_id) = 0;
  // The user's rows set at or before stream position upto.
  virtual Result<std::vector<RemoteMembershipRow>> of_user(const std::string& user, int64_t upto) = 0;
};

}  // namespace despatch::storage
