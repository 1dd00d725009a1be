#include "service/federation/event_reads.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/rooms/event_format.h"
#include "service/rooms/server_acl.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"
#include "storage/state_store.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

namespace despatch {

namespace {

constexpr int kMaxBackfill = 100;
constexpr int kMaxMissing = 20;

int64_t depth_of(const json::object& pdu) {
  auto* d = pdu.if_contains("depth");
  return d && d->is_int64() ? d->as_int64() : 0;
}

}  // namespace

// Which events of one room a server may read whole. By the client rules applied to the
// server's users together: an event is visible when the history visibility in the state
// before it is world_readable, when one of them was joined then (or invited, under
// "invited"), or, under "shared", when one of them is joined now. The state before an event
// decides, once per state group. Events with no state recorded (outliers) are not shown.
class FederationReads::ServerView {
 public:
  static Result<ServerView> load(storage::Stores& s, const std::string& origin, const std::string& room_id) {
    ServerView v(s, origin);
    DS_ASSIGN(auto room, s.rooms().room(room_id));
    v.version_ = room ? room->room_version : "11";
    DS_ASSIGN(auto joined, s.memberships().users_with(room_id, "join"));
    v.joined_now_ = std::any_of(joined.begin(), joined.end(),
                                [&](const std::string& u) { return server_name_of(u) == origin; });
    return v;
  }

  // The PDU as this server may send it to the origin: whole, or redacted.
  Result<json::object> shown(const std::string& event_id, json::object pdu) {
    DS_ASSIGN(bool visible, may_see(event_id));
    if (visible) return pdu;
    return redact_event(pdu, version_);
  }

 private:
  ServerView(storage::Stores& s, std::string origin) : s_(s), origin_(std::move(origin)) {}

  Result<bool> may_see(const std::string& event_id) {
    DS_ASSIGN(auto groups, s_.state().event_groups(event_id));
    if (!groups) return false;
    if (auto it = by_group_.find(groups->before); it != by_group_.end()) return it->second;
    DS_ASSIGN(storage::StateIds state, s_.state().group_state(groups->before));
    std::string visibility = "shared";  // the spec's default when the room has none
    bool joined = false, invited = false;
    for (auto& [key, id] : state) {
      bool member = key.first == "m.room.member" && server_name_of(key.second) == origin_;
      if (!member && key.first != "m.room.history_visibility") continue;
      DS_ASSIGN(auto stored, s_.events().event(id));
      if (!stored) continue;
      auto* content = stored->pdu.if_contains("content");
      if (!content || !content->is_object()) continue;
      if (!member) {
        if (auto* hv = json_string_at(content->as_object(), "history_visibility")) visibility = std::string(*hv);
        continue;
      }
      auto* m = json_string_at(content->as_object(), "membership");
      joined |= m && *m == "join";
      invited |= m && *m == "invite";
    }
    bool visible = visibility == "world_readable" || joined || (visibility == "invited" && invited) ||
                   (visibility == "shared" && joined_now_);
    by_group_[groups->before] = visible;
    return visible;
  }

  storage::Stores& s_;
  std::string origin_, version_;
  bool joined_now_ = false;
  std::map<int64_t, bool> by_group_;
};

Status FederationReads::may_read(const std::string& origin, const std::string& room_id) {
  DS_TRY(check_server_acl(db_.read(), room_id, origin));
  auto& m = db_.read().memberships();
  // Joined now, or once (left or banned since): a server that was in the room may read
  // its history. Invited-only servers are not (yet) answered.
  for (const char* membership : {"join", "leave", "ban"}) {
    DS_ASSIGN(auto users, m.users_with(room_id, membership));
    for (auto& u : users)
      if (server_name_of(u) == origin) {
        if (std::string_view(membership) == "join") return ok_status();
        // A leave may be a refused invite: only count it when the user was joined before.
        DS_ASSIGN(auto events, db_.read().events().visibility_events(room_id, u));
        for (auto& e : events)
          if (auto* c = e.pdu.if_contains("content"); c && c->is_object())
            if (auto* ms = c->as_object().if_contains("membership"); ms && ms->is_string() && ms->as_string() == "join")
              return ok_status();
      }
  }
  return Error::forbidden(origin + " has no user in this room");
}

Result<json::object> FederationReads::pdu_in(const std::string& room_id, const std::string& event_id) {
  DS_ASSIGN(auto stored, db_.read().events().event(event_id));
  if (!stored) return Error::not_found("Unknown event");
  auto* room = stored->pdu.if_contains("room_id");
  if (!room || !room->is_string() || room->as_string() != room_id) return Error::not_found("Unknown event");
  return std::move(stored->pdu);
}

json::object FederationReads::envelope(json::array pdus) const {
  return json::object{{"origin", server_name_}, {"origin_server_ts", now_ms()}, {"pdus", std::move(pdus)}};
}

Result<json::object> FederationReads::event(const std::string& origin, const std::string& event_id) {
  DS_ASSIGN(auto stored, db_.read().events().event(event_id));
  if (!stored) return Error::not_found("Unknown event");
  auto* room = stored->pdu.if_contains("room_id");
  if (!room || !room->is_string()) return Error::not_found("Unknown event");
  std::string room_id(room->as_string());
  DS_TRY(may_read(origin, room_id));
  DS_ASSIGN(auto view, ServerView::load(db_.read(), origin, room_id));
  DS_ASSIGN(auto shown, view.shown(event_id, std::move(stored->pdu)));
  return envelope(json::array{std::move(shown)});
}

Result<std::vector<std::string>> FederationReads::state_before(const std::string& room_id,
                                                               const std::string& event_id) {
  DS_TRY(pdu_in(room_id, event_id));
  DS_ASSIGN(auto groups, db_.read().state().event_groups(event_id));
  if (!groups) return Error::not_found("No state is known at this event");
  DS_ASSIGN(storage::StateIds ids, db_.read().state().group_state(groups->before));
  std::vector<std::string> out;
  for (auto& [key, id] : ids) out.push_back(id);
  return out;
}

Result<std::vector<std::string>> FederationReads::auth_chain(const std::vector<std::string>& ids) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  std::deque<std::string> todo(ids.begin(), ids.end());
  std::set<std::string> start(ids.begin(), ids.end());
  while (!todo.empty()) {
    std::string id = std::move(todo.front());
    todo.pop_front();
    DS_ASSIGN(auto stored, db_.read().events().event(id));
    if (!stored) continue;
    for (auto& a : event_refs(stored->pdu, "auth_events"))
      if (seen.insert(a).second) {
        out.push_back(a);
        todo.push_back(a);
      }
  }
  return out;
}

Result<json::object> FederationReads::state_ids(const std::string& origin, const std::string& room_id,
                                                const std::string& event_id) {
  DS_TRY(may_read(origin, room_id));
  DS_ASSIGN(auto state, state_before(room_id, event_id));
  DS_ASSIGN(auto chain, auth_chain(state));
  json::array pdu_ids, chain_ids;
  for (auto& id : state) pdu_ids.emplace_back(json::string(id));
  for (auto& id : chain) chain_ids.emplace_back(json::string(id));
  return json::object{{"pdu_ids", std::move(pdu_ids)}, {"auth_chain_ids", std::move(chain_ids)}};
}

Result<json::object> FederationReads::state(const std::string& origin, const std::string& room_id,
                                            const std::string& event_id) {
  DS_TRY(may_read(origin, room_id));
  DS_ASSIGN(auto state, state_before(room_id, event_id));
  DS_ASSIGN(auto chain, auth_chain(state));
  json::array pdus, chain_pdus;
  for (auto& id : state) {
    DS_ASSIGN(auto stored, db_.read().events().event(id));
    if (stored) pdus.push_back(std::move(stored->pdu));
  }
  for (auto& id : chain) {
    DS_ASSIGN(auto stored, db_.read().events().event(id));
    if (stored) chain_pdus.push_back(std::move(stored->pdu));
  }
  return json::object{{"pdus", std::move(pdus)}, {"auth_chain", std::move(chain_pdus)}};
}

Result<json::object> FederationReads::event_auth(const std::string& origin, const std::string& room_id,
                                                 const std::string& event_id) {
  DS_TRY(may_read(origin, room_id));
  DS_TRY(pdu_in(room_id, event_id));
  DS_ASSIGN(auto chain, auth_chain({event_id}));
  json::array pdus;
  for (auto& id : chain) {
    DS_ASSIGN(auto stored, db_.read().events().event(id));
    if (stored) pdus.push_back(std::move(stored->pdu));
  }
  return json::object{{"auth_chain", std::move(pdus)}};
}

Result<json::object> FederationReads::backfill(const std::string& origin, const std::string& room_id,
                                               const std::vector<std::string>& from, int limit) {
  DS_TRY(may_read(origin, room_id));
  DS_ASSIGN(auto view, ServerView::load(db_.read(), origin, room_id));
  limit = std::clamp(limit, 0, kMaxBackfill);
  // Deepest first over the graph, starting with the v events themselves.
  std::vector<std::pair<int64_t, std::string>> frontier;
  std::set<std::string> seen;
  std::vector<json::object> out;
  for (auto& id : from) {
    auto pdu = pdu_in(room_id, id);
    if (pdu.ok() && seen.insert(id).second) frontier.emplace_back(depth_of(*pdu), id);
  }
  while (!frontier.empty() && static_cast<int>(out.size()) < limit) {
    auto best = std::max_element(frontier.begin(), frontier.end());
    std::string id = best->second;
    frontier.erase(best);
    DS_ASSIGN(auto pdu, pdu_in(room_id, id));
    for (auto& prev : event_refs(pdu, "prev_events")) {
      if (!seen.insert(prev).second) continue;
      auto p = pdu_in(room_id, prev);
      if (p.ok()) frontier.emplace_back(depth_of(*p), prev);
    }
    DS_ASSIGN(auto shown, view.shown(id, std::move(pdu)));
    out.push_back(std::move(shown));
  }
  json::array pdus;
  for (auto& p : out) pdus.push_back(std::move(p));
  return envelope(std::move(pdus));
}

Result<json::object> FederationReads::missing_events(const std::string& origin, const std::string& room_id,
                                                     const std::vector<std::string>& earliest,
                                                     const std::vector<std::string>& latest, int limit,
                                                     int64_t min_depth) {
  DS_TRY(may_read(origin, room_id));
  DS_ASSIGN(auto view, ServerView::load(db_.read(), origin, room_id));
  limit = std::clamp(limit, 0, kMaxMissing);
  std::set<std::string> seen(earliest.begin(), earliest.end());
  for (auto& id : latest) seen.insert(id);
  std::deque<std::string> todo;
  for (auto& id : latest) {
    auto pdu = pdu_in(room_id, id);
    if (!pdu.ok()) continue;
    for (auto& prev : event_refs(*pdu, "prev_events"))
      if (seen.insert(prev).second) todo.push_back(prev);
  }
  std::vector<json::object> out;
  while (!todo.empty() && static_cast<int>(out.size()) < limit) {
    std::string id = std::move(todo.front());
    todo.pop_front();
    auto pdu = pdu_in(room_id, id);
    if (!pdu.ok() || depth_of(*pdu) < min_depth) continue;
    for (auto& prev : event_refs(*pdu, "prev_events"))
      if (seen.insert(prev).second) todo.push_back(prev);
    DS_ASSIGN(auto shown, view.shown(id, std::move(*pdu)));
    out.push_back(std::move(shown));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const json::object& a, const json::object& b) { return depth_of(a) < depth_of(b); });
  json::array events;
  for (auto& p : out) events.push_back(std::move(p));
  return json::object{{"events", std::move(events)}};
}

}  // namespace despatch
