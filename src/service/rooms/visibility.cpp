#include "service/rooms/visibility.h"

#include "service/common/time.h"
#include "storage/event_store.h"
#include "storage/state_store.h"

#include <algorithm>

namespace despatch {

namespace {

std::string content_string(const StoredEvent& e, const char* key) {
  auto* c = e.pdu.if_contains("content");
  auto* v = c && c->is_object() ? c->get_object().if_contains(key) : nullptr;
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<Visibility> Visibility::load(storage::Stores& s, const std::string& room_id,
                                    const std::string& user_id) {
  Visibility v;
  v.user_id_ = user_id;
  DS_ASSIGN(auto events, s.events().visibility_events(room_id, user_id));
  for (auto& e : events) {
    if (is_str(e.pdu["type"], "m.room.member")) v.memberships_.emplace_back(e.pos, content_string(e, "membership"));
    else v.visibility_.emplace_back(e.pos, content_string(e, "history_visibility"));
  }
  DS_ASSIGN(auto retention, s.state().current_entry(room_id, "m.room.retention", ""));
  if (retention) {
    DS_ASSIGN(auto ev, s.events().event(retention->event_id));
    auto* c = ev ? ev->pdu.if_contains("content") : nullptr;
    auto* lifetime = c && c->is_object() ? c->get_object().if_contains("max_lifetime") : nullptr;
    if (lifetime && lifetime->is_int64() && lifetime->get_int64() > 0) v.max_lifetime_ms_ = lifetime->get_int64();
  }
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
  return m == "join" || ((m == "leave" || m == "ban") && ever_joined()) || world_readable();
}

bool Visibility::world_readable() const {
  return !visibility_.empty() && visibility_.back().second == "world_readable";
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

Result<std::vector<StoredEvent>> state_at(storage::Stores& s, const std::string& room_id,
                                          int64_t pos) {
  return s.events().state_at(room_id, pos);
}

Result<std::vector<StoredEvent>> readable_state_at(storage::Stores& s, const Visibility& vis,
                                                   const std::string& room_id, int64_t pos) {
  std::string m = vis.current_membership();
  if (m == "join") return state_at(s, room_id, pos);
  if ((m == "leave" || m == "ban") && vis.ever_joined())
    return state_at(s, room_id, std::min(pos, vis.membership_pos()));
  DS_ASSIGN(auto events, state_at(s, room_id, pos));
  std::erase_if(events, [&](const StoredEvent& e) { return !vis.can_see(e); });
  return events;
}

StateMap state_map_of(const std::vector<StoredEvent>& events) {
  StateMap sm;
  for (auto& e : events)
    sm[{std::string(e.pdu.at("type").as_string()), std::string(e.pdu.at("state_key").as_string())}] = e.pdu;
  return sm;
}

Result<std::vector<StoredEvent>> current_state(storage::Stores& s, const std::string& room_id) {
  DS_ASSIGN(auto entries, s.state().current(room_id));
  std::vector<StoredEvent> out;
  out.reserve(entries.size());
  for (auto& entry : entries) {
    DS_ASSIGN(auto e, s.events().event(entry.event_id));
    if (!e) return Error::internal("current state names a missing event " + entry.event_id);
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace despatch
