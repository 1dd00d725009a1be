#include "service/rooms/state_res.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "service/rooms/event_format.h"
#include "service/rooms/power_levels.h"

namespace despatch {
namespace {

using Index = size_t;

// Mainline position of an event whose power levels chain never meets the mainline.
constexpr int64_t kNotOnMainline = std::numeric_limits<int64_t>::max();

std::optional<std::string_view> string_member(const json::object& event, std::string_view key) {
  const json::value* v = event.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

int64_t origin_server_ts(const json::object& event) {
  const json::value* v = event.if_contains("origin_server_ts");
  if (v != nullptr && v->is_int64()) return v->get_int64();
  if (v != nullptr && v->is_uint64()) {
    return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT64_MAX));
  }
  return 0;
}

std::optional<StateKey> state_key_of(const json::object& event) {
  auto type = string_member(event, "type");
  auto state_key = string_member(event, "state_key");
  if (!type || !state_key) return std::nullopt;
  return StateKey{std::string(*type), std::string(*state_key)};
}

// rooms/v2.md "Power events": power levels, join rules, and kicks and bans.
bool is_power_event(const json::object& event) {
  auto key = state_key_of(event);
  if (!key) return false;
  if (key->first == "m.room.power_levels" || key->first == "m.room.join_rules") return true;
  if (key->first != "m.room.member") return false;
  const json::value* content = event.if_contains("content");
  const json::value* membership = content != nullptr && content->is_object()
                                      ? content->get_object().if_contains("membership")
                                      : nullptr;
  bool removes =
      membership != nullptr && (is_str(*membership, "leave") || is_str(*membership, "ban"));
  return removes && string_member(event, "sender") != std::string_view(key->second);
}

// The events the algorithm touches, numbered as first seen, with their auth_events as numbers:
// the state sets' events and everything their auth_events reach.
class Graph {
 public:
  explicit Graph(const EventLookup& lookup) : lookup_(lookup) {}

  // Loads `id` and its auth chain; 404 if any of them is unknown.
  Result<Index> load(const std::string& id) {
    if (auto it = index_.find(id); it != index_.end()) return it->second;
    DS_ASSIGN(Index root, add(id));
    std::vector<Index> pending{root};
    while (!pending.empty()) {
      Index i = pending.back();
      pending.pop_back();
      for (const std::string& auth_id : event_refs(*events_[i], "auth_events")) {
        auto it = index_.find(auth_id);
        Index a = 0;
        if (it != index_.end()) {
          a = it->second;
        } else {
          DS_ASSIGN(a, add(auth_id));
          pending.push_back(a);
        }
        if (std::find(auth_[i].begin(), auth_[i].end(), a) == auth_[i].end()) {
          auth_[i].push_back(a);
        }
      }
    }
    return root;
  }

  size_t size() const { return ids_.size(); }
  const std::string& id(Index i) const { return ids_[i]; }
  const json::object& event(Index i) const { return *events_[i]; }
  const std::vector<Index>& auth(Index i) const { return auth_[i]; }

  // Everything reachable from `seeds` through one or more auth_events links.
  std::vector<bool> auth_chain_of(const std::vector<Index>& seeds) const {
    std::vector<bool> seen(size(), false);
    std::vector<Index> pending;
    for (Index s : seeds) pending.insert(pending.end(), auth_[s].begin(), auth_[s].end());
    while (!pending.empty()) {
      Index i = pending.back();
      pending.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      pending.insert(pending.end(), auth_[i].begin(), auth_[i].end());
    }
    return seen;
  }

  // `targets` and everything from which an auth_events path leads to one of them.
  std::vector<bool> reaching(const std::vector<Index>& targets) const {
    std::vector<std::vector<Index>> cited_by(size());
    for (Index i = 0; i < size(); ++i) {
      for (Index a : auth_[i]) cited_by[a].push_back(i);
    }
    std::vector<bool> seen(size(), false);
    std::vector<Index> pending = targets;
    while (!pending.empty()) {
      Index i = pending.back();
      pending.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      pending.insert(pending.end(), cited_by[i].begin(), cited_by[i].end());
    }
    return seen;
  }

 private:
  Result<Index> add(const std::string& id) {
    const json::object* event = lookup_(id);
    if (event == nullptr) {
      return Error::not_found("state resolution needs event " + id + ", which is not known");
    }
    Index i = ids_.size();
    ids_.push_back(id);
    events_.push_back(event);
    auth_.emplace_back();
    index_.emplace(id, i);
    return i;
  }

  const EventLookup& lookup_;
  std::vector<std::string> ids_;
  std::vector<const json::object*> events_;
  std::vector<std::vector<Index>> auth_;
  std::unordered_map<std::string, Index> index_;
};

using IndexState = std::map<StateKey, Index>;

class Resolver {
 public:
  Resolver(const RoomVersion& v, const Graph& g, std::optional<Index> create,
           const RejectedCheck& rejected, const ServerSignatureCheck& signed_by)
      : v_(v), g_(g), create_(create), rejected_(rejected), signed_by_(signed_by) {}

  // rooms/v2.md "Reverse topological power ordering": Kahn's algorithm over the auth_events
  // links among `events`, taking at each step the candidate whose sender has the greatest
  // power (by its own auth events), then the smallest origin_server_ts, then event ID.
  Result<std::vector<Index>> reverse_topological_power_order(const std::set<Index>& events) const {
    std::map<Index, size_t> waiting_on;
    std::map<Index, std::vector<Index>> unblocks;
    for (Index e : events) {
      waiting_on[e] = 0;
      for (Index a : g_.auth(e)) {
        if (!events.contains(a)) continue;
        ++waiting_on[e];
        unblocks[a].push_back(e);
      }
    }
    struct Candidate {
      int64_t power;
      int64_t ts;
      const std::string* id;
      Index index;
      bool operator<(const Candidate& o) const {
        if (power != o.power) return power > o.power;
        if (ts != o.ts) return ts < o.ts;
        return *id < *o.id;
      }
    };
    auto candidate = [this](Index e) {
      return Candidate{sender_power(e), origin_server_ts(g_.event(e)), &g_.id(e), e};
    };
    std::set<Candidate> ready;
    for (const auto& [e, count] : waiting_on) {
      if (count == 0) ready.insert(candidate(e));
    }
    std::vector<Index> order;
    while (!ready.empty()) {
      Index e = ready.begin()->index;
      ready.erase(ready.begin());
      order.push_back(e);
      for (Index next : unblocks[e]) {
        if (--waiting_on[next] == 0) ready.insert(candidate(next));
      }
    }
    if (order.size() != events.size()) {
      return Error::make(400, errc::kBadState, "auth_events form a cycle");
    }
    return order;
  }

  // rooms/v2.md "Mainline ordering", based on the power levels event `power_levels`.
  std::vector<Index> mainline_order(std::vector<Index> events,
                                    std::optional<Index> power_levels) const {
    std::map<Index, int64_t> mainline;
    for (std::optional<Index> p = power_levels; p && !mainline.contains(*p); p = pl_parent(*p)) {
      int64_t position = static_cast<int64_t>(mainline.size());
      mainline.emplace(*p, position);
    }
    std::map<Index, int64_t> position;
    for (Index e : events) {
      int64_t pos = kNotOnMainline;
      std::set<Index> walked;  // guards against a cycle in malformed auth_events
      for (std::optional<Index> p = pl_parent(e); p && walked.insert(*p).second;
           p = pl_parent(*p)) {
        if (auto it = mainline.find(*p); it != mainline.end()) {
          pos = it->second;
          break;
        }
      }
      position[e] = pos;
    }
    std::sort(events.begin(), events.end(), [&](Index x, Index y) {
      if (position[x] != position[y]) return position[x] > position[y];
      int64_t tx = origin_server_ts(g_.event(x)), ty = origin_server_ts(g_.event(y));
      if (tx != ty) return tx < ty;
      return g_.id(x) < g_.id(y);
    });
    return events;
  }

  // rooms/v2.md "Iterative auth checks": each event that the auth rules allow against `state`
  // (with its own non-rejected auth events standing in for missing entries) enters `state`.
  void iterative_auth_checks(IndexState& state, const std::vector<Index>& events) const {
    for (Index e : events) {
      const json::object& event = g_.event(e);
      std::optional<StateKey> key = state_key_of(event);
      if (!key) continue;
      StateMap auth_state;
      for (Index a : g_.auth(e)) {
        if (rejected_ && rejected_(g_.id(a))) continue;
        if (auto a_key = state_key_of(g_.event(a))) auth_state[*a_key] = with_id(a);
      }
      if (create_) auth_state[{"m.room.create", ""}] = with_id(*create_);
      for (const StateKey& needed : auth_state_keys(event, v_.id)) {
        if (auto it = state.find(needed); it != state.end())
          auth_state[needed] = with_id(it->second);
      }
      if (check_event_auth(event, auth_state, v_.id, signed_by_).ok()) state[*key] = e;
    }
  }

 private:
  json::object with_id(Index i) const {
    json::object event = g_.event(i);
    event["event_id"] = g_.id(i);
    return event;
  }

  // The m.room.power_levels event among e's auth events, if any.
  std::optional<Index> pl_parent(Index e) const {
    for (Index a : g_.auth(e)) {
      auto key = state_key_of(g_.event(a));
      if (key && key->first == "m.room.power_levels" && key->second.empty()) return a;
    }
    return std::nullopt;
  }

  // The power level of e's sender in the state its auth events make (plus, in v12, the
  // create event the room ID names, for the creators' infinite level).
  int64_t sender_power(Index e) const {
    StateMap state;
    for (Index a : g_.auth(e)) {
      if (auto key = state_key_of(g_.event(a))) state[*key] = g_.event(a);
    }
    if (create_) state[{"m.room.create", ""}] = g_.event(*create_);
    auto sender = string_member(g_.event(e), "sender");
    return PowerLevels::from_state(state, v_).user_level(sender.value_or(""));
  }

  const RoomVersion& v_;
  const Graph& g_;
  std::optional<Index> create_;
  const RejectedCheck& rejected_;
  const ServerSignatureCheck& signed_by_;
};

}  // namespace

Result<StateIds> resolve_state(std::string_view room_version,
                               const std::vector<StateIds>& state_sets, const EventLookup& lookup,
                               const RejectedCheck& rejected,
                               const ServerSignatureCheck& signed_by) {
  const RoomVersion* found = find_room_version(room_version);
  if (found == nullptr || found->state_res == StateResolution::kV1) {
    return Error::make(400, errc::kUnsupportedRoomVersion,
                       "no state resolution for room version '" + std::string(room_version) +
                           "' (versions 2 to 12 are resolved here)");
  }
  const RoomVersion& v = *found;
  if (state_sets.empty()) return StateIds{};
  if (state_sets.size() == 1) return state_sets.front();

  // The unconflicted state map and the conflicted state set.
  std::set<StateKey> keys;
  for (const StateIds& s : state_sets) {
    for (const auto& entry : s) keys.insert(entry.first);
  }
  StateIds unconflicted;
  std::set<std::string> conflicted_ids;
  for (const StateKey& key : keys) {
    std::set<std::string> values;
    bool everywhere = true;
    for (const StateIds& s : state_sets) {
      auto it = s.find(key);
      if (it == s.end()) {
        everywhere = false;
      } else {
        values.insert(it->second);
      }
    }
    if (everywhere && values.size() == 1) {
      unconflicted.emplace(key, *values.begin());
    } else {
      conflicted_ids.insert(values.begin(), values.end());
    }
  }
  // Equal state sets have equal auth chains, so nothing is conflicted at all.
  if (conflicted_ids.empty()) return unconflicted;

  Graph g(lookup);
  std::vector<std::vector<Index>> set_events;
  for (const StateIds& s : state_sets) {
    std::vector<Index>& events = set_events.emplace_back();
    for (const auto& entry : s) {
      DS_ASSIGN(Index i, g.load(entry.second));
      events.push_back(i);
    }
  }
  std::optional<Index> create;
  if (v.room_id_from_create) {
    // v12 events never cite the create event; their room ID names it.
    for (Index i = 0; i < g.size() && !create; ++i) {
      if (auto room_id = string_member(g.event(i), "room_id"); room_id && room_id->size() > 1) {
        DS_ASSIGN(create, g.load("$" + std::string(room_id->substr(1))));
      }
    }
  }

  // The auth difference: what some state set's full auth chain has and another's lacks.
  std::vector<bool> in_any(g.size(), false), in_all(g.size(), true);
  for (const std::vector<Index>& events : set_events) {
    std::vector<bool> chain = g.auth_chain_of(events);
    chain.resize(g.size(), false);
    for (Index i = 0; i < g.size(); ++i) {
      in_any[i] = in_any[i] || chain[i];
      in_all[i] = in_all[i] && chain[i];
    }
  }
  std::set<Index> full;
  std::vector<Index> conflicted;
  for (const std::string& id : conflicted_ids) {
    DS_ASSIGN(Index i, g.load(id));
    conflicted.push_back(i);
    full.insert(i);
  }
  for (Index i = 0; i < in_any.size(); ++i) {
    if (in_any[i] && !in_all[i]) full.insert(i);
  }
  if (v.state_res == StateResolution::kV21) {
    // The conflicted state subgraph: events on an auth_events path from one conflicted event
    // to another (each such path starts at a conflicted event and ends at one).
    std::vector<bool> below = g.auth_chain_of(conflicted);
    std::vector<bool> above = g.reaching(conflicted);
    for (Index i = 0; i < g.size(); ++i) {
      if (below[i] && above[i]) full.insert(i);
    }
  }

  // Step 1: the power events of the full conflicted set, with the part of the full conflicted
  // set in their auth chains, in reverse topological power order.
  std::vector<Index> power_seeds;
  for (Index i : full) {
    if (is_power_event(g.event(i))) power_seeds.push_back(i);
  }
  std::set<Index> power_events(power_seeds.begin(), power_seeds.end());
  std::vector<bool> power_chain = g.auth_chain_of(power_seeds);
  for (Index i : full) {
    if (power_chain[i]) power_events.insert(i);
  }
  Resolver r(v, g, create, rejected, signed_by);
  DS_ASSIGN(std::vector<Index> power_order, r.reverse_topological_power_order(power_events));

  // Step 2: the iterative auth checks from the unconflicted state map (v2) or from nothing
  // (v2.1, which lets each event's own auth events speak for the rest).
  IndexState state;
  if (v.state_res == StateResolution::kV2) {
    for (const auto& [key, id] : unconflicted) {
      DS_ASSIGN(Index i, g.load(id));
      state.emplace(key, i);
    }
  }
  r.iterative_auth_checks(state, power_order);

  // Steps 3 and 4: the other events in mainline order of the resolved power levels.
  std::vector<Index> others;
  for (Index i : full) {
    if (!power_events.contains(i)) others.push_back(i);
  }
  std::optional<Index> power_levels;
  if (auto it = state.find({"m.room.power_levels", ""}); it != state.end()) {
    power_levels = it->second;
  }
  r.iterative_auth_checks(state, r.mainline_order(std::move(others), power_levels));

  // Step 5: the unconflicted state map has the last word.
  StateIds resolved;
  for (const auto& [key, i] : state) resolved[key] = g.id(i);
  for (const auto& [key, id] : unconflicted) resolved[key] = id;
  return resolved;
}

}  // namespace despatch
