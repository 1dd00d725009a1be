// RoomWriter::receive: an event from another server joins the room's graph. The state before
// it is the state after its prev_events (resolved when there are several), it is judged by the
// three checks on receipt, and the room's current state becomes the resolved state across the
// forward extremities.
#include "service/rooms/room_writer.h"

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/rooms/event_format.h"
#include "core/ids.h"
#include "service/rooms/event_limits.h"
#include "service/rooms/power_levels.h"
#include "service/rooms/room_version.h"
#include "service/rooms/state_res.h"
#include "storage/event_store.h"
#include "storage/remote_membership_store.h"
#include "storage/room_store.h"

#include <algorithm>

namespace despatch {

namespace {

storage::StateIds ids_of(const StateMap& state) {
  storage::StateIds out;
  for (auto& [key, ev] : state)
    if (auto* id = ev.if_contains("event_id"); id && id->is_string()) out[key] = id->as_string();
  return out;
}

std::string membership_of(const json::object& ev) {
  auto* c = ev.if_contains("content");
  auto* m = c && c->is_object() ? c->as_object().if_contains("membership") : nullptr;
  return m && m->is_string() ? std::string(m->as_string()) : "";
}

}  // namespace

storage::NewEvent received_row(const json::object& ev, const std::string& room_id, const std::string& version) {
  std::string event_id(ev.at("event_id").as_string());
  json::object pdu = ev;  // stored as sent, without what it is known by
  pdu.erase("event_id");
  if (find_room_version(version) && find_room_version(version)->event_ids == EventIdFormat::kOpaque)
    pdu["event_id"] = event_id;  // v1-2 events carry their ID
  auto* ts = ev.if_contains("origin_server_ts");
  storage::NewEvent row{0, event_id, room_id, std::string(ev.at("type").as_string()), std::nullopt,
                        std::string(ev.at("sender").as_string()), ts && ts->is_int64() ? ts->as_int64() : now_ms(),
                        json::serialize(pdu), std::nullopt, std::nullopt, "", ""};
  if (auto* sk = ev.if_contains("state_key"); sk && sk->is_string()) row.state_key = std::string(sk->as_string());
  auto* depth = ev.if_contains("depth");
  row.depth = depth && depth->is_int64() ? depth->as_int64() : 0;
  row.prev_events = event_refs(ev, "prev_events");
  auto* content = ev.if_contains("content");
  auto* rel = content && content->is_object() ? content->as_object().if_contains("m.relates_to") : nullptr;
  if (rel && rel->is_object()) {
    if (auto* e = rel->as_object().if_contains("event_id"); e && e->is_string()) row.relates_to = e->as_string();
    if (auto* t = rel->as_object().if_contains("rel_type"); t && t->is_string()) row.rel_type = t->as_string();
  }
  return row;
}

std::string received_record(const json::object& ev, const std::string& how, const std::string& from) {
  json::object record = ev;
  json::object meta{{"origin", server_name_of(ev.at("sender").as_string())}, {"how", how}, {"received_ts", now_ms()}};
  if (!from.empty()) meta["from"] = from;
  record[kReceivedKey] = std::move(meta);
  return canonical_json(record);
}

std::string RoomWriter::redaction_target(const json::object& ev, const StateMap& before, const std::string& room_id) {
  const json::value* target = ev.if_contains("redacts");
  if (auto* c = ev.at("content").as_object().if_contains("redacts"); c && (!target || !target->is_string())) target = c;
  if (!target || !target->is_string()) return "";
  std::string id(target->as_string());
  auto known = known_event(id);
  if (!known.ok() || !*known || !is_str((**known).at("room_id"), room_id)) return "";
  // The auth rules let a server redact its own users' events; anyone else needs the level.
  std::string sender(ev.at("sender").as_string());
  std::string target_sender((**known).at("sender").as_string());
  PowerLevels pl = PowerLevels::from_state(before);
  if (server_name_of(sender) != server_name_of(target_sender) && pl.user_level(sender) < pl.redact) return "";
  return id;
}

Result<const json::object*> RoomWriter::known_event(const std::string& event_id) {
  if (auto it = events_.find(event_id); it != events_.end()) return &it->second;
  DS_ASSIGN(auto stored, read_.events().event(event_id));
  if (!stored) return static_cast<const json::object*>(nullptr);
  DS_ASSIGN(auto flags, read_.events().flags(event_id));
  rejected_[event_id] = flags && !flags->rejected.empty();
  json::object ev = std::move(stored->pdu);
  ev["event_id"] = event_id;
  return &(events_[event_id] = std::move(ev));
}

Result<std::optional<storage::StateIds>> RoomWriter::state_after(const std::string& event_id) {
  if (auto it = batch_after_.find(event_id); it != batch_after_.end()) return std::optional(it->second);
  DS_ASSIGN(auto groups, read_.state().event_groups(event_id));
  if (!groups) return std::optional<storage::StateIds>{};
  DS_ASSIGN(storage::StateIds ids, read_.state().group_state(groups->after));
  return std::optional(std::move(ids));
}

Result<StateMap> RoomWriter::state_map(const storage::StateIds& ids) {
  StateMap out;
  for (auto& [key, id] : ids) {
    DS_ASSIGN(const json::object* ev, known_event(id));
    if (!ev) return Error::not_found("State event " + id + " is unknown");
    out[key] = *ev;
  }
  return out;
}

Result<storage::StateIds> RoomWriter::resolve(const std::vector<storage::StateIds>& sets) {
  if (sets.size() == 1) return sets.front();
  // The lookup must hand out stable pointers: load every event it may ask for on demand.
  std::optional<Error> missing;
  EventLookup lookup = [&](const std::string& id) -> const json::object* {
    auto ev = known_event(id);
    if (!ev.ok()) {
      missing = ev.error();
      return nullptr;
    }
    return *ev;
  };
  RejectedCheck rejected = [&](const std::string& id) {
    auto it = rejected_.find(id);
    return it != rejected_.end() && it->second;
  };
  DS_ASSIGN(StateIds resolved, resolve_state(cache_->version, sets, lookup, rejected));
  if (missing) return *missing;
  return resolved;
}

Result<Received> RoomWriter::receive(const std::string& room_id, json::object pdu, const std::string& from) {
  DS_ASSIGN(RoomService::RoomState * room, this->room(room_id));
  const std::string version = room->version;
  if (!is_str(pdu["room_id"], room_id)) return Error::bad_json("The event belongs to another room");
  DS_TRY(check_event_shape(pdu));
  DS_TRY(check_event_size(pdu));
  std::string event_id = compute_event_id(pdu, version);
  if (event_id.empty()) return Error::bad_json("The event has no event ID");
  Received out{event_id};
  DS_ASSIGN(const json::object* known, known_event(event_id));
  if (known) {
    out.duplicate = true;
    return out;
  }
  json::object ev = pdu;
  ev.erase("unsigned");  // what another server says outside the signed event is not kept
  ev["event_id"] = event_id;

  std::vector<json::object> auth_events;
  for (auto& id : event_refs(ev, "auth_events")) {
    DS_ASSIGN(const json::object* a, known_event(id));
    if (!a) return Error::not_found("Auth event " + id + " is unknown");
    auth_events.push_back(*a);
  }
  std::vector<std::string> prevs = event_refs(ev, "prev_events");
  std::vector<storage::StateIds> before_sets;
  for (auto& id : prevs) {
    DS_ASSIGN(auto st, state_after(id));
    if (!st) return Error::not_found("Prev event " + id + " is unknown");
    before_sets.push_back(std::move(*st));
  }
  if (prevs.empty() && !is_str(ev["type"], "m.room.create"))
    return Error::bad_json("Only the create event may have no prev_events");
  DS_ASSIGN(storage::StateIds before, resolve(before_sets));
  DS_ASSIGN(StateMap before_map, state_map(before));
  AcceptanceResult verdict = check_received_event(ev, auth_events, before_map, room->state, version);
  out.verdict = verdict.verdict;
  out.reason = verdict.reason;

  std::string type(ev["type"].as_string());
  bool is_state = ev.contains("state_key") && ev["state_key"].is_string();
  std::string state_key = is_state ? std::string(ev["state_key"].as_string()) : "";
  Prepared p;
  p.row = received_row(ev, room_id, version);
  if (!prevs.empty()) {
    // The state before is stored as a change of the first prev event's state after.
    p.base_event = prevs.front();
    for (auto& [key, id] : before)
      if (auto it = before_sets.front().find(key); it == before_sets.front().end() || it->second != id)
        p.before_delta.push_back({key.first, key.second, id});
  }
  p.membership = is_state && type == "m.room.member" ? membership_of(ev) : "";
  p.record = received_record(ev, "federation", from);
  p.classification = received_classification(*room, ev);

  storage::StateIds after = before;
  if (verdict.verdict == Acceptance::kRejected) {
    p.row.rejected = verdict.reason.empty() ? "rejected" : verdict.reason;
    p.adds_state = p.moves_current = p.extremity = false;
    p.archive_kind = "rejected";
  } else if (verdict.verdict == Acceptance::kSoftFailed) {
    // Its own state counts for events that follow it, but the room does not take it.
    p.row.soft_failed = true;
    p.moves_current = p.extremity = false;
    p.archive_kind = "soft_failed";
    if (is_state) after[{type, state_key}] = event_id;
  } else if (is_state) {
    after[{type, state_key}] = event_id;
  }
  // Known from here on (state resolution below looks it up); forgotten again on failure.
  events_[event_id] = ev;
  rejected_[event_id] = verdict.verdict == Acceptance::kRejected;
  struct Forget {
    RoomWriter* w;
    const std::string& id;
    bool keep = false;
    ~Forget() {
      if (keep) return;
      w->events_.erase(id);
      w->rejected_.erase(id);
    }
  } forget{this, event_id};
  if (verdict.verdict == Acceptance::kAccepted) {
    // The new extremities: this event in place of the prev events it names.
    std::vector<std::string> extremities{event_id};
    for (auto& x : room->extremities)
      if (std::find(prevs.begin(), prevs.end(), x) == prevs.end()) extremities.push_back(x);
    std::vector<storage::StateIds> sets{after};
    for (size_t i = 1; i < extremities.size(); ++i) {
      DS_ASSIGN(auto st, state_after(extremities[i]));
      if (st) sets.push_back(std::move(*st));
    }
    DS_ASSIGN(storage::StateIds current, resolve(sets));
    for (auto& [key, id] : current) {
      if (auto it = after.find(key); it != after.end() && it->second == id) continue;
      DS_ASSIGN(const json::object* e, known_event(id));
      if (!e) return Error::not_found("State event " + id + " is unknown");
      p.current_delta.push_back({{key.first, key.second, id}, key.first == "m.room.member" ? membership_of(*e) : ""});
    }
    // The cache follows: every key whose event changed (looked up first, so that a failure
    // leaves the cache as it was).
    storage::StateIds old_ids = ids_of(room->state);
    std::vector<std::pair<StateKey, json::object>> changed;
    for (auto& [key, id] : current) {
      if (auto it = old_ids.find(key); it != old_ids.end() && it->second == id) continue;
      DS_ASSIGN(const json::object* e, known_event(id));
      if (!e) return Error::not_found("State event " + id + " is unknown");
      changed.emplace_back(key, *e);
    }
    // Valid by the auth rules, so every server takes it; local policy only decides what the
    // department hears of it (judged against the state as it stood before).
    if (!svc_.keeper_user_.empty() && !is_str(ev["sender"], svc_.keeper_user_)) note_keeper_breach(*room, ev, from);
    for (auto& [key, e] : changed) {
      remember_state(key);
      room->state[key] = std::move(e);
      if (key.first == "m.room.member") wake_.insert(key.second);
    }
    if (type == "m.room.redaction") p.redacts = redaction_target(ev, before_map, room_id);
    room->extremities = std::move(extremities);
    room->depth = std::max(room->depth, p.row.depth);
    p.notify = notifications(*room, ev);
    for (auto& m : room_members(room->state, true)) wake_.insert(m);
    // The keeper decrypts what remote members send as it does local members' messages.
    if (type == "m.room.encrypted" && svc_.keeper_) {
      auto* k = find_state(room->state, "m.room.member", svc_.keeper_user_);
      if (k && membership_of(*k) == "join") p.keeper_record = ev;
    }
  }
  batch_after_[event_id] = after;
  forget.keep = true;
  undo_.received.push_back(event_id);
  steps_.emplace_back(std::move(p));
  if (breach_) {
    // After the event, in its commit: the audit entry is as durable as what it reports.
    json::object details = std::move(*breach_);
    breach_.reset();
    DS_LOG(kWarn, "{} (from {}) {} the records keeper in {}: taken (valid by the auth rules) and audited",
           std::string(details.at("sender").as_string()), from.empty() ? "?" : from,
           std::string(details.at("attempt").as_string()), room_id);
    if (AlertService* alerts = svc_.alerts())
      alerts->signal("keeper.removal", std::string(details.at("sender").as_string()), details);
    then([details](storage::Txn& t) -> Status {
      DS_TRY(audit_append(t, std::string(details.at("sender").as_string()), "suspicious.keeper_removal_remote", "",
                          details));
      return ok_status();
    });
  }
  return out;
}

Result<Received> RoomWriter::receive_own(const std::string& room_id, json::object pdu, const std::string& from) {
  DS_ASSIGN(Received r, receive(room_id, pdu, from));
  if (r.verdict == Acceptance::kAccepted && !r.duplicate) {
    pdu.erase("unsigned");
    pdu.erase("event_id");
    if (auto* room = cache_.get(); room && find_room_version(room->version) &&
                                   find_room_version(room->version)->event_ids == EventIdFormat::kOpaque)
      pdu["event_id"] = r.event_id;
    sent_.push_back(std::move(pdu));
  }
  return r;
}

}  // namespace despatch

namespace despatch {

Status RoomWriter::adopt(const std::string& room_id, const std::string& version, const std::vector<json::object>& state,
                         const std::vector<json::object>& auth_chain, const json::object& join) {
  if (cache_) return Error::make(400, errc::kUnknown, "This server is in the room already");
  const json::object* create = nullptr;
  for (auto& e : state)
    if (is_str(e.at("type"), "m.room.create")) create = &e;
  if (!create) return Error::bad_json("The room's state has no create event");
  storage::RoomRow row;
  row.room_id = room_id;
  row.room_version = version;
  row.creator = room_creator(*create);
  row.created_ts = now_ms();
  row.kind = "group";
  then([row](storage::Txn& t) { return t.rooms().create(row); });
  RoomService::RoomState& room = new_room(room_id, version);

  auto prepare = [&](const json::object& ev, bool in_state) -> Prepared {
    Prepared p;
    std::string type(ev.at("type").as_string());
    p.row = received_row(ev, room_id, version);
    p.membership = type == "m.room.member" ? membership_of(ev) : "";
    p.record = received_record(ev, "join", "");
    p.extremity = false;
    p.history = true;
    if (!in_state) {
      // Only the auth chain needs it: known, never shown.
      p.row.outlier = true;
      p.adds_state = p.moves_current = false;
      p.archive_kind = "outlier";
    }
    return p;
  };
  // The room's state comes first, the create event leading, each event as the state of the
  // room at the join: so the room reads as it stood when this server joined.
  std::set<std::string> in_state;
  for (auto& e : state) in_state.insert(std::string(e.at("event_id").as_string()));
  for (auto& e : auth_chain) {
    std::string id(e.at("event_id").as_string());
    if (in_state.count(id) || events_.count(id)) continue;
    events_[id] = e;
    steps_.emplace_back(prepare(e, false));
  }
  std::vector<const json::object*> ordered;
  ordered.push_back(create);
  for (auto& e : state)
    if (&e != create) ordered.push_back(&e);
  for (auto* e : ordered) {
    std::string id(e->at("event_id").as_string());
    events_[id] = *e;
    steps_.emplace_back(prepare(*e, true));
    if (auto* sk = e->if_contains("state_key"); sk && sk->is_string())
      room.state[{std::string(e->at("type").as_string()), std::string(sk->as_string())}] = *e;
  }
  Prepared j = prepare(join, true);
  j.extremity = true;
  j.history = false;  // the join itself is news: the next stream position
  std::string join_id(join.at("event_id").as_string());
  room.state[{"m.room.member", std::string(join.at("state_key").as_string())}] = join;
  room.extremities = {join_id};
  room.depth = j.row.depth;
  // The user is in the room now: an invite or knock kept outside it is done with.
  then([user = std::string(join.at("state_key").as_string()), room_id](storage::Txn& t) {
    return t.remote_memberships().remove(user, room_id);
  });
  events_[join_id] = join;
  wake_.insert(std::string(join.at("state_key").as_string()));
  steps_.emplace_back(std::move(j));
  return ok_status();
}

}  // namespace despatch
