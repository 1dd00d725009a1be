// Paging through a room's history: /messages and /context, with visibility and filters.
#pragma once

#include "service/rooms/room_service.h"
#include "service/rooms/event_view.h"
#include "service/sync/filter.h"

#include <optional>
#include <set>
#include <string>

namespace despatch {

// Tokens are "s<stream_pos>" (a /sync next_batch "s<pos>_<typing>" is accepted too): the
// position just after which a page starts.
std::optional<int64_t> parse_stream_token(std::string_view token);
std::string stream_token(int64_t pos);

class Timeline {
 public:
  explicit Timeline(RoomService& rooms) : rooms_(rooms) {}

  Result<json::object> messages(const std::string& user, const std::string& device,
                                const std::string& room_id, std::optional<int64_t> from,
                                std::optional<int64_t> to, bool backwards, int limit,
                                const RoomEventFilter& filter);
  // GET /relations: events relating to event_id, optionally of one rel_type and event type.
  Result<json::object> relations(const std::string& user, const std::string& device,
                                 const std::string& room_id, const std::string& event_id,
                                 const std::string& rel_type, const std::string& event_type,
                                 std::optional<int64_t> from, bool backwards, int limit);
  Result<json::object> context(const std::string& user, const std::string& device,
                               const std::string& room_id, const std::string& event_id,
                               int limit, const RoomEventFilter& filter);

 private:
  RoomService& rooms_;
};

// Member events for the given senders from a list of state events (lazy-loading members).
json::array lazy_members(storage::Stores& s, const std::vector<StoredEvent>& state,
                         const std::set<std::string>& senders, const std::string& room_version);

}  // namespace despatch
