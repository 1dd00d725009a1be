#include "service/rooms/visibility.h"

#include "service/common/time.h"

#include <algorithm>

namespace despatch {

Result<Visibility> Visibility::load(storage::Conn& c, const std::string& room_id,
                                    const std::string& user_id) {
  Visibility v;
  v.user_id_ = user_id;
  DS_ASSIGN(auto rows, c.query("SELECT stream_pos, type, json_extract(json, '$.content.membership'), "
                               "json_extract(json, '$.content.history_visibility') FROM events "
                               "WHERE room_id=? AND ((type='m.room.member' AND state_key=?) OR "
                               "(type='m.room.history_visibility' AND state_key='')) ORDER BY stream_pos",
                               {room_id, user_id}));
  for (auto& r : rows) {
    if (r.str(1) == "m.room.member") v.memberships_.emplace_back(r.i64(0), r.str(2));
    else v.visibility_.emplace_back(r.i64(0), r.str(3));
  }
  DS_ASSIGN(auto retention, storage::query_one(
                                c, "SELECT json_extract(e.json, '$.content.max_lifetime') FROM current_state s "
                                   "JOIN events e ON e.event_id=s.event_id WHERE s.room_id=? AND "
                                   "s.type='m.room.retention' AND s.state_key=''",
                                {room_id}));
  if (retention && !retention->is_null(0) && retention->i64(0) > 0) v.max_lifetime_ms_ = retention->i64(0);
  return v;
}

static std::string value_at(const std::vector<std::pair<int64_t, std::string>>& xs, int64_t pos,
                            const std::string& dflt) {
  auto it = std::upper_bound(xs.begin(), xs.end(), pos,
                             [](int64_t p, const auto& e) { return p < e.first; });
  return it == xs.begin() ? dflt : std::prev(it)->second;
}

std::string Visibility::membership_at(int64_t pos) const { return value_at(memberships_, pos, ""); }
std::string Visibility::visibility_at(int64_t pos) const { return value_at(visibility_, pos, "shared"); }
std::string Visibility::current_membership() const {
  return memberships_.empty() ? "" : memberships_.back().second;
}
int64_t Visibility::membership_pos() const {
  return memberships_.empty() ? 0 : memberships_.back().first;
}

bool Visibility::may_read_room() const {
  auto m = current_membership();
  return m == "join" || ((m == "leave" || m == "ban") && ever_joined()) ||
         (!visibility_.empty() && visibility_.back().second == "world_readable");
}

bool Visibility::ever_joined() const {
  return std::any_of(memberships_.begin(), memberships_.end(), [](auto& m) { return m.second == "join"; });
}

bool Visibility::allowed_under(const std::string& vis, int64_t pos) const {
  if (vis == "world_readable") return true;
  std::string m = membership_at(pos);
  if (m == "join") return true;
  // The event that ended the user's membership is still theirs to see.
  if (membership_at(pos - 1) == "join") return true;
  if (vis == "shared") {
    // Shared history: visible to anyone who joined at any point after the event.
    for (auto it = memberships_.rbegin(); it != memberships_.rend() && it->first > pos; ++it)
      if (it->second == "join") return true;
  }
  if (vis == "invited" && m == "invite") return true;
  return false;
}

bool Visibility::can_see(int64_t pos) const {
  if (allowed_under(visibility_at(pos), pos)) return true;
  // A history_visibility event is judged by the setting before it as well as after.
  bool is_change = std::binary_search(visibility_.begin(), visibility_.end(), std::make_pair(pos, std::string()),
                                      [](const auto& a, const auto& b) { return a.first < b.first; });
  return is_change && allowed_under(visibility_at(pos - 1), pos);
}

bool Visibility::can_see(const StoredEvent& e) const {
  // Users always see their own membership changes (an invite they rejected, say).
  const json::value* type = e.pdu.if_contains("type");
  const json::value* key = e.pdu.if_contains("state_key");
  bool own_member = type && key && is_str(*type, "m.room.member") && is_str(*key, user_id_);
  if (!own_member && !can_see(e.pos)) return false;
  if (max_lifetime_ms_ <= 0 || e.pdu.contains("state_key")) return true;
  auto* ts = e.pdu.if_contains("origin_server_ts");
  return !ts || !ts->is_int64() || ts->as_int64() >= now_ms() - max_lifetime_ms_;
}

Result<std::vector<StoredEvent>> state_at(storage::Conn& c, const std::string& room_id,
                                          int64_t pos) {
  DS_ASSIGN(auto rows, c.query(std::string("SELECT ") + kEventColumns +
                                   " FROM events e WHERE room_id=? AND state_key IS NOT NULL AND "
                                   "stream_pos=(SELECT MAX(stream_pos) FROM events x WHERE "
                                   "x.room_id=e.room_id AND x.type=e.type AND x.state_key=e.state_key "
                                   "AND x.stream_pos<=?)",
                               {room_id, pos}));
  std::vector<StoredEvent> out;
  for (auto& r : rows) {
    DS_ASSIGN(StoredEvent e, parse_event_row(r));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<StoredEvent>> readable_state_at(storage::Conn& c, const Visibility& vis,
                                                   const std::string& room_id, int64_t pos) {
  std::string m = vis.current_membership();
  if (m == "join") return state_at(c, room_id, pos);
  if ((m == "leave" || m == "ban") && vis.ever_joined())
    return state_at(c, room_id, std::min(pos, vis.membership_pos()));
  DS_ASSIGN(auto events, state_at(c, room_id, pos));
  std::erase_if(events, [&](const StoredEvent& e) { return !vis.can_see(e); });
  return events;
}

Result<std::vector<StoredEvent>> current_state(storage::Conn& c, const std::string& room_id) {
  DS_ASSIGN(auto rows, c.query("SELECT e.stream_pos, e.event_id, e.json, e.redacted_by, e.txn_device, "
                               "e.txn_id FROM current_state s JOIN events e ON e.event_id=s.event_id "
                               "WHERE s.room_id=?",
                               {room_id}));
  std::vector<StoredEvent> out;
  for (auto& r : rows) {
    DS_ASSIGN(StoredEvent e, parse_event_row(r));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace despatch
