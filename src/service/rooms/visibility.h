// History visibility: which events of a room a user may read, from the user's membership
// over time and the room's m.room.history_visibility over time (spec: "History visibility").
#pragma once

#include "service/rooms/event_view.h"
#include "service/rooms/state_map.h"
#include "storage/stores.h"

#include <string>
#include <utility>
#include <vector>

namespace despatch {

class Visibility {
 public:
  // Loads the user's member events and the room's history_visibility changes.
  static Result<Visibility> load(storage::Stores& s, const std::string& room_id,
                                 const std::string& user_id);

  // May the user see the event stored at stream position pos?
  bool can_see(int64_t pos) const;
  // can_see, and the event has not outlived the room's m.room.retention max_lifetime
  // (disappearing messages: gone for users, kept in the records archive).
  bool can_see(const StoredEvent& e) const;
  std::string current_membership() const;
  // Stream position of the user's latest member event (0 when none).
  int64_t membership_pos() const;
  // True when the user may read the room's current state and history at all.
  bool may_read_room() const;
  // True when the room's history visibility is world_readable now: anyone may read it.
  bool world_readable() const;
  // Was the user ever a joined member?
  bool ever_joined() const;

 private:
  std::string membership_at(int64_t pos) const;
  std::string visibility_at(int64_t pos) const;
  bool allowed_under(const std::string& visibility, int64_t pos) const;
  std::string user_id_;
  std::vector<std::pair<int64_t, std::string>> memberships_;  // ascending by pos
  std::vector<std::pair<int64_t, std::string>> visibility_;
  int64_t max_lifetime_ms_ = 0;  // 0: messages never disappear
};

// State events of room_id as of stream position pos (latest per type and state_key).
Result<std::vector<StoredEvent>> state_at(storage::Stores& s, const std::string& room_id, int64_t pos);
// The part of the state as of pos that the user may read, by the rule /state follows: all of
// it while joined; for a member who left, the state when they left (nothing set after);
// otherwise only the state events history visibility lets them see. Every read that returns
// state goes through this.
Result<std::vector<StoredEvent>> readable_state_at(storage::Stores& s, const Visibility& vis,
                                                   const std::string& room_id, int64_t pos);
// The events of a state list keyed by (type, state_key), as the auth rules read them.
StateMap state_map_of(const std::vector<StoredEvent>& events);
// The current state, from the current_state table.
Result<std::vector<StoredEvent>> current_state(storage::Stores& s, const std::string& room_id);

}  // namespace despatch
