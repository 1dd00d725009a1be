// Room memberships: each user's current membership of each room, kept beside the member
// events that made it.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct MembershipRow {
  std::string room_id, user_id, membership;
  int64_t stream_pos = 0;  // of the member event that set it
};

class MembershipStore {
 public:
  virtual ~MembershipStore() = default;
  // The user's current membership of the room ("join", "invite", ...), nullopt when none.
  virtual Result<std::optional<std::string>> membership(const std::string& room_id, const std::string& user) = 0;
  // Users whose current membership of the room is `membership`.
  virtual Result<std::vector<std::string>> users_with(const std::string& room_id, const std::string& membership) = 0;
  // The user's memberships set at or before stream position upto, of rooms not forgotten.
  virtual Result<std::vector<MembershipRow>> rooms_of(const std::string& user, int64_t upto) = 0;
  // Joined and invited members of the room, by user ID.
  virtual Result<std::vector<MembershipRow>> joined_and_invited(const std::string& room_id) = 0;
};

}  // namespace despatch::storage
