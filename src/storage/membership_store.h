// Room memberships: each user's current membership of each room, kept beside the member
// events that made it.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace despatch::storage {

struct MembershipRow {
  std::string room_id, user_id, membership;
  int64_t stream_pos = 0;  // of the member event that set it
};

class MembershipStore {
 public:
  virtual ~MembershipStore() = default;
  // Sets the user's membership from the member event at stream_pos (a room forgotten
  // before is remembered again).
  virtual Status set(const MembershipRow& m, const std::string& event_id) = 0;
  virtual Status forget(const std::string& room_id, const std::string& user) = 0;
  virtual Result<bool> forgotten(const std::string& room_id, const std::string& user) = 0;
  // The user's current membership of the room ("join", "invite", ...), nullopt when none.
  virtual Result<std::optional<std::string>> membership(const std::string& room_id, const std::string& user) = 0;
  // Users whose current membership of the room is `membership`.
  virtual Result<std::vector<std::string>> users_with(const std::string& room_id, const std::string& membership) = 0;
  // The user's memberships set at or before stream position upto, of rooms not forgotten.
  virtual Result<std::vector<MembershipRow>> rooms_of(const std::string& user, int64_t upto) = 0;
  // Rooms where the user's membership is one of `memberships`.
  virtual Result<std::vector<std::string>> rooms_with(const std::string& user,
                                                      const std::vector<std::string>& memberships) = 0;
  virtual Result<int64_t> count(const std::string& room_id, const std::string& membership) = 0;
  // The member event of each joined member: user_id -> event_id.
  virtual Result<std::vector<std::pair<std::string, std::string>>> joined_member_events(const std::string& room_id) = 0;
  // Joined and invited members of the room, by user ID.
  virtual Result<std::vector<MembershipRow>> joined_and_invited(const std::string& room_id) = 0;
  // Users joined to some room the user is joined to (the user too, when joined anywhere),
  // each once.
  virtual Result<std::vector<std::string>> co_members(const std::string& user) = 0;
};

}  // namespace despatch::storage
