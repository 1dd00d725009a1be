#include "service/rooms/room_writer.h"

#include <algorithm>

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/policy/classification.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/event_limits.h"
#include "service/rooms/event_format.h"
#include "service/rooms/power_levels.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/receipt_store.h"
#include "storage/room_store.h"
#include "storage/state_store.h"

namespace despatch {

namespace {
constexpr size_t kMaxPrevEvents = 20;
}  // namespace

const int64_t RoomWriter::kGroupToStore;

std::vector<std::string> room_members(const StateMap& state, bool include_invited) {
  std::vector<std::string> out;
  for (auto it = state.lower_bound({"m.room.member", ""});
       it != state.end() && it->first.first == "m.room.member"; ++it) {
    auto* c = it->second.if_contains("content");
    auto* m = c && c->is_object() ? c->as_object().if_contains("membership") : nullptr;
    if (!m || !m->is_string()) continue;
    if (*m == "join" || (include_invited && *m == "invite")) out.push_back(it->first.second);
  }
  return out;
}

RoomWriter::RoomWriter(RoomService& svc, std::string room_id,
                       std::shared_ptr<RoomService::RoomState>& cache, storage::Stores& read)
    : svc_(svc), room_id_(std::move(room_id)), cache_(cache), read_(read) {}

void RoomWriter::begin_job() {
  undo_ = Undo{};
  undo_.steps = steps_.size();
  undo_.sent = sent_.size();
  if (cache_) {
    undo_.extremities = cache_->extremities;
    undo_.depth = cache_->depth;
  }
}

void RoomWriter::remember_state(const StateKey& key) {
  auto it = cache_->state.find(key);
  undo_.state.emplace_back(key, it == cache_->state.end() ? std::nullopt : std::optional(it->second));
}

void RoomWriter::end_job(bool keep) {
  if (keep) return;
  steps_.erase(steps_.begin() + static_cast<long>(undo_.steps), steps_.end());
  sent_.resize(undo_.sent);
  for (auto& k : undo_.txns) txn_events_.erase(k);
  for (auto& id : undo_.received) {
    events_.erase(id);
    batch_after_.erase(id);
    rejected_.erase(id);
  }
  if (undo_.created) {
    cache_.reset();
    return;
  }
  if (!cache_) return;
  for (auto it = undo_.state.rbegin(); it != undo_.state.rend(); ++it) {
    if (it->second) cache_->state[it->first] = std::move(*it->second);
    else cache_->state.erase(it->first);
  }
  cache_->extremities = std::move(undo_.extremities);
  cache_->depth = undo_.depth;
}

RoomService::RoomState& RoomWriter::new_room(const std::string& room_id, const std::string& version) {
  cache_ = std::make_shared<RoomService::RoomState>();
  cache_->version = version;
  undo_.created = true;
  (void)room_id;
  return *cache_;
}

Result<RoomService::RoomState*> RoomWriter::room(const std::string& room_id) {
  if (room_id != room_id_) return Error::internal("a room job touched another room");
  if (cache_) return cache_.get();
  // Nothing of this room is being written (its lane is here), so committed data is current.
  DS_ASSIGN(auto row, read_.rooms().room(room_id));
  if (!row) return Error::not_found("Unknown room");
  auto st = std::make_shared<RoomService::RoomState>();
  st->version = row->room_version;
  DS_ASSIGN(auto extremities, read_.events().forward_extremities(room_id));
  for (auto& x : extremities) {
    st->extremities.push_back(x.event_id);
    st->depth = std::max(st->depth, x.depth);
  }
  if (extremities.size() == 1) {
    // The current state is the state after the extremities; with one that is its own state
    // group. Several came from other servers, and the current state is their resolved state,
    // stored as a group of its own when the next commit needs it.
    DS_ASSIGN(auto groups, read_.state().event_groups(extremities.front().event_id));
    if (groups) st->state_group = groups->after;
  } else if (extremities.size() > 1) {
    st->state_group = kGroupToStore;
  }
  DS_ASSIGN(auto entries, read_.state().current(room_id));
  for (auto& entry : entries) {
    DS_ASSIGN(auto stored, read_.events().event(entry.event_id));
    if (!stored) return Error::internal("current state names a missing event " + entry.event_id);
    // Authorization sees a redacted state event as redacted (a redacted power_levels event
    // loses its invite level, for instance).
    json::object ev = stored->redacted_by.empty() ? std::move(stored->pdu) : redact_event(stored->pdu, st->version);
    ev["event_id"] = entry.event_id;
    st->state[{entry.type, entry.state_key}] = std::move(ev);
  }
  cache_ = std::move(st);
  undo_.extremities = cache_->extremities;
  undo_.depth = cache_->depth;
  return cache_.get();
}

Result<std::optional<std::string>> RoomWriter::find_txn(const std::string& user, const TxnRef& txn) {
  auto it = txn_events_.find({user, txn.device_id, txn.scope + txn.txn_id});
  if (it != txn_events_.end()) return std::optional(it->second);
  return read_.events().txn_event(user, txn.device_id, txn.scope + txn.txn_id);
}

Result<json::object> RoomWriter::append(const std::string& room_id, json::object ev,
                                        const TxnRef* txn) {
  DS_TRY(check_event_shape(ev));
  DS_ASSIGN(RoomService::RoomState * room, this->room(room_id));
  const std::string& sender = ev["sender"].as_string().c_str();
  std::string type(ev["type"].as_string());
  bool is_state = ev.contains("state_key");
  std::string state_key = is_state ? std::string(ev["state_key"].as_string()) : "";

  ev["room_id"] = room_id;
  ev["origin_server_ts"] = now_ms();
  ev["depth"] = room->depth + 1;
  json::array prev;
  // The spec caps prev_events at 20; the extremities deepest first are the ones kept.
  for (size_t i = 0; i < room->extremities.size() && i < kMaxPrevEvents; ++i)
    prev.push_back(json::string(room->extremities[i]));
  ev["prev_events"] = std::move(prev);
  json::array auth;
  for (auto& key : auth_state_keys(ev, room->version)) {
    if (auto* s = find_state(room->state, key.first, key.second))
      auth.push_back((*s).at("event_id"));
  }
  ev["auth_events"] = std::move(auth);
  const RoomVersion* rules = find_room_version(room->version);
  if (type == "m.room.redaction" && rules && !rules->redacts_in_content && ev.contains("content")) {
    // Before v11 the redacted event ID is a top-level key.
    if (auto* r = ev["content"].as_object().if_contains("redacts")) ev["redacts"] = *r;
  }
  if (!svc_.keeper_user_.empty() && sender != svc_.keeper_user_)
    DS_TRY(guard_keeper(*room, ev, type, is_state, state_key));
  DS_TRY(check_event_auth(ev, room->state, room->version));
  std::string marking;
  DS_TRY(guard_classification(*room, ev, marking));

  const json::object* prior = is_state ? find_state(room->state, type, state_key) : nullptr;
  std::string event_id = hash_sign_and_identify(ev, svc_.config_.server_name, svc_.key_, room->version);
  DS_TRY(check_event_size(ev));
  if (prior) {
    // Unsigned data is outside the hashes: the previous state helps clients render changes.
    json::object& u = ev["unsigned"].emplace_object();
    u["replaces_state"] = prior->at("event_id");
    u["prev_content"] = prior->at("content");
    u["prev_sender"] = prior->at("sender");
  }

  Prepared p;
  std::string relates, rel_type;
  if (auto* c = ev["content"].as_object().if_contains("m.relates_to"); c && c->is_object()) {
    if (auto* e = c->as_object().if_contains("event_id"); e && e->is_string()) relates = e->as_string();
    if (auto* t = c->as_object().if_contains("rel_type"); t && t->is_string()) rel_type = t->as_string();
  }
  p.classification = std::move(marking);
  p.row = storage::NewEvent{0, event_id, room_id, type, std::nullopt, sender, ev["origin_server_ts"].as_int64(),
                            json::serialize(ev), std::nullopt, std::nullopt, relates, rel_type};
  if (is_state) p.row.state_key = state_key;
  p.row.depth = room->depth + 1;
  for (auto& pe : ev["prev_events"].as_array()) p.row.prev_events.emplace_back(pe.as_string());
  if (txn) {
    p.txn = *txn;
    p.row.txn_device = txn->device_id;
    p.row.txn_id = txn->txn_id;
    std::tuple<std::string, std::string, std::string> k{sender, txn->device_id, txn->scope + txn->txn_id};
    txn_events_[k] = event_id;
    undo_.txns.push_back(std::move(k));
  }
  if (is_state && type == "m.room.member") p.membership = ev["content"].as_object()["membership"].as_string();
  if (type == "m.room.redaction") {
    const json::value* target = ev.contains("redacts") ? &ev["redacts"] : nullptr;
    if (!target) target = ev["content"].as_object().if_contains("redacts");
    if (target && target->is_string()) p.redacts = target->as_string();
  }
  // The record goes into the same transaction as the event: nothing is acknowledged unarchived.
  json::object record = ev;
  record["event_id"] = event_id;
  p.record = canonical_json(record);
  // In rooms the keeper has joined, the plaintext of an encrypted event is sealed beside it.
  if (type == "m.room.encrypted" && svc_.keeper_) {
    auto* k = find_state(room->state, "m.room.member", svc_.keeper_user_);
    if (k && k->at("content").as_object().if_contains("membership") && k->at("content").at("membership") == "join")
      p.keeper_record = std::move(record);
  }

  // Everything checked: now the cache may change.
  if (!p.redacts.empty()) {
    for (auto& [key, state_ev] : room->state) {
      if (!is_str(state_ev["event_id"], p.redacts)) continue;
      remember_state(key);
      state_ev = redact_event(state_ev, room->version);
      state_ev["event_id"] = p.redacts;
      break;
    }
  }
  // Extremities left out of prev_events (more than the cap) stay; the new event is deepest.
  std::vector<std::string> rest(room->extremities.begin() + static_cast<long>(p.row.prev_events.size()),
                                room->extremities.end());
  room->extremities = {event_id};
  room->extremities.insert(room->extremities.end(), rest.begin(), rest.end());
  room->depth += 1;
  ev["event_id"] = event_id;
  if (is_state) {
    remember_state({type, state_key});
    room->state[{type, state_key}] = ev;
    if (type == "m.room.member") wake_.insert(state_key);
  }
  p.notify = notifications(*room, ev);
  for (auto& m : room_members(room->state, true)) wake_.insert(m);
  steps_.emplace_back(std::move(p));
  json::object pdu = ev;
  pdu.erase("event_id");
  sent_.push_back(std::move(pdu));
  if (type == kClassificationType && is_state && state_key.empty()) relabel_topic(room_id, sender);
  return ev;
}

Status RoomWriter::commit(storage::Txn& t) {
  group_ = cache_ ? cache_->state_group : 0;
  groups_after_.clear();
  for (auto& step : steps_) {
    if (auto* p = std::get_if<Prepared>(&step)) {
      DS_TRY(write_event(t, *p));
    } else if (auto& fn = std::get<std::function<Status(storage::Txn&)>>(step)) {
      DS_TRY(fn(t));
    }
  }
  if (!sent_.empty())
    for (auto& queue : svc_.sent_queues_) DS_TRY(queue(t, room_id_, sent_));
  return ok_status();
}

Result<int64_t> RoomWriter::group_after(storage::Txn& t, const std::string& event_id) {
  if (auto it = groups_after_.find(event_id); it != groups_after_.end()) return it->second;
  DS_ASSIGN(auto groups, t.state().event_groups(event_id));
  if (!groups) return Error::internal("no state is recorded after " + event_id);
  return groups->after;
}

Result<int64_t> RoomWriter::current_group(storage::Txn& t) {
  DS_ASSIGN(auto extremities, t.events().forward_extremities(room_id_));
  if (extremities.empty()) return int64_t{0};
  DS_ASSIGN(int64_t base, group_after(t, extremities.front().event_id));
  DS_ASSIGN(storage::StateIds base_state, t.state().group_state(base));
  DS_ASSIGN(auto current, t.state().current(room_id_));
  std::vector<storage::StateDelta> delta;
  for (auto& e : current) {
    auto it = base_state.find({e.type, e.state_key});
    if (it == base_state.end() || it->second != e.event_id) delta.push_back({e.type, e.state_key, e.event_id});
  }
  if (delta.empty()) return base;
  return t.state().add_group(room_id_, base, delta);
}

void RoomWriter::committed() {
  if (cache_) cache_->state_group = group_;
}

Status RoomWriter::write_event(storage::Txn& t, Prepared& p) {
  // A forked room loaded from storage: store its current state's group while the
  // extremities still say what it is the state after.
  if (group_ == kGroupToStore) {
    DS_ASSIGN(group_, current_group(t));
  }
  int64_t pos = 0;
  if (p.history) {
    DS_ASSIGN(pos, t.events().history_pos(p.row.depth));
  } else {
    pos = t.next_stream_pos();
  }
  storage::NewEvent& row = p.row;
  row.pos = pos;
  DS_TRY(t.events().insert(row));
  // Sending in a room reads everything before it (spec: push, "Marking notifications as read").
  DS_TRY(t.receipts().clear_notifications_before(row.room_id, row.sender, pos));
  if (p.txn) DS_TRY(t.events().put_txn(row.sender, p.txn->device_id, p.txn->scope + p.txn->txn_id, row.event_id));
  if (p.extremity) DS_TRY(t.events().advance_extremities(row.room_id, row.prev_events, row.event_id));
  if (!row.outlier) {
    // The state before a local event is the room's current state; a received one names the
    // prev event it follows. A state event starts a new group after it.
    storage::EventStateGroups groups;
    if (p.base_event) {
      DS_ASSIGN(groups.before, group_after(t, *p.base_event));
      if (!p.before_delta.empty()) {
        DS_ASSIGN(groups.before, t.state().add_group(row.room_id, groups.before, p.before_delta));
      }
    } else {
      groups.before = group_;
    }
    groups.after = groups.before;
    if (row.state_key && p.adds_state) {
      DS_ASSIGN(groups.after, t.state().add_group(row.room_id, groups.before, {{row.type, *row.state_key, row.event_id}}));
    }
    DS_TRY(t.state().set_event_groups(row.event_id, groups));
    groups_after_[row.event_id] = groups.after;
    if (p.moves_current) {
      if (row.state_key) {
        DS_TRY(t.state().set_current(row.room_id, {row.type, *row.state_key, row.event_id, pos}));
        if (row.type == "m.room.member")
          DS_TRY(t.memberships().set({row.room_id, *row.state_key, p.membership, pos}, row.event_id));
      }
      std::vector<storage::StateDelta> deltas;
      for (auto& c : p.current_delta) {
        deltas.push_back(c.delta);
        DS_TRY(t.state().set_current(row.room_id, {c.delta.type, c.delta.state_key, c.delta.event_id, pos}));
        if (c.delta.type == "m.room.member")
          DS_TRY(t.memberships().set({row.room_id, c.delta.state_key, c.membership, pos}, c.delta.event_id));
      }
      group_ = groups.after;
      if (!deltas.empty()) {
        DS_ASSIGN(group_, t.state().add_group(row.room_id, groups.after, deltas));
      }
    }
  }
  if (!p.redacts.empty()) DS_TRY(t.events().mark_redacted(p.redacts, row.room_id, row.event_id));
  ArchiveEntry entry{pos, row.event_id, row.room_id, row.sender, row.type, row.origin_server_ts, p.classification,
                     p.archive_kind, std::move(p.record)};
  DS_TRY(svc_.archive_.append(t, entry));
  if (p.keeper_record) DS_TRY(svc_.keeper_->on_encrypted_event(t, *p.keeper_record, pos));
  for (auto& [user, highlight] : p.notify) DS_TRY(t.receipts().add_notification(row.room_id, user, pos, highlight));
  return ok_status();
}

Status RoomWriter::guard_keeper(const RoomService::RoomState& room, const json::object& ev,
                                const std::string& type, bool is_state, const std::string& state_key) {
  const std::string& keeper = svc_.keeper_user_;
  auto refuse = [&](const char* attempt, const std::string& message) -> Status {
    keeper_refusal_ = json::object{{"room_id", ev.at("room_id")}, {"sender", ev.at("sender")},
                                   {"attempt", attempt}, {"keeper", keeper}, {"event_type", type}};
    return Error::forbidden(message);
  };
  const json::object* content = ev.contains("content") && ev.at("content").is_object() ? &ev.at("content").as_object()
                                                                                       : nullptr;
  if (type == "m.room.member" && is_state && state_key == keeper) {
    auto* m = content ? content->if_contains("membership") : nullptr;
    // Lifting a ban (to leave) brings the keeper closer to the room, not out of it.
    const json::object* now = find_state(room.state, "m.room.member", keeper);
    const json::value* now_m = now ? now->at("content").as_object().if_contains("membership") : nullptr;
    bool banned = now_m && is_str(*now_m, "ban");
    if (m && is_str(*m, "leave") && !banned)
      return refuse("kick", "The records keeper records this room and cannot be removed from it");
    if (m && is_str(*m, "ban"))
      return refuse("ban", "The records keeper records this room and cannot be banned from it");
    return ok_status();
  }
  const json::object* member = find_state(room.state, "m.room.member", keeper);
  const json::value* membership = member ? member->at("content").as_object().if_contains("membership") : nullptr;
  if (!membership || !(is_str(*membership, "join") || is_str(*membership, "invite"))) return ok_status();
  if (type == "m.room.power_levels" && is_state && state_key.empty() && content) {
    PowerLevels now = PowerLevels::from_state(room.state);
    PowerLevels next = PowerLevels::from_content(*content);
    if (next.user_level(keeper) < now.user_level(keeper))
      return refuse("power_levels", "The records keeper's power level cannot be lowered: it records this room");
  }
  if (type == kRecordsNoticeType)
    return refuse("records_notice", "Only the records keeper may change the room's records notice");
  if (type == "m.room.redaction") {
    const json::value* target = ev.contains("redacts") ? &ev.at("redacts") : nullptr;
    if (!target && content) target = content->if_contains("redacts");
    const json::object* notice = find_state(room.state, kRecordsNoticeType);
    if (target && target->is_string() &&
        (target->as_string() == member->at("event_id").as_string() ||
         (notice && target->as_string() == notice->at("event_id").as_string())))
      return refuse("redaction", "The records keeper's membership and the records notice cannot be redacted");
  }
  return ok_status();
}

std::vector<std::pair<std::string, bool>> RoomWriter::notifications(const RoomService::RoomState& room,
                                                                    const json::object& event) {
  std::vector<std::pair<std::string, bool>> out;
  auto joined = room_members(room.state, false);
  PowerLevels pl = PowerLevels::from_state(room.state);
  json::object notif_levels;
  if (auto* p = find_state(room.state, "m.room.power_levels"))
    if (auto* n = p->at("content").as_object().if_contains("notifications"); n && n->is_object())
      notif_levels = n->as_object();
  // The records keeper only listens: a direct chat it records is still one-to-one for the
  // push rules (.m.rule.room_one_to_one and its encrypted twin count members).
  int64_t member_count = static_cast<int64_t>(joined.size());
  if (!svc_.keeper_user_.empty() && std::find(joined.begin(), joined.end(), svc_.keeper_user_) != joined.end())
    --member_count;
  std::vector<std::string> targets = joined;
  // An invitee is not joined yet but should still hear of the invite.
  if (event.at("type") == "m.room.member" &&
      event.at("content").as_object().if_contains("membership") &&
      event.at("content").at("membership") == "invite")
    targets.push_back(std::string(event.at("state_key").as_string()));
  for (auto& user : targets) {
    if (user == svc_.keeper_user_) continue;  // the keeper reads nothing: no notifications
    PushContext ctx;
    ctx.user_id = user;
    if (auto* m = find_state(room.state, "m.room.member", user))
      if (auto* d = m->at("content").as_object().if_contains("displayname"); d && d->is_string())
        ctx.display_name = d->as_string();
    ctx.member_count = member_count;
    ctx.user_power_level = [&pl](std::string_view u) { return pl.user_level(u); };
    ctx.notification_power_levels = notif_levels;
    auto rules = svc_.push_.effective(user);
    PushActions a = evaluate_push_rules(*rules, event, ctx);
    if (!a.notify) continue;
    out.emplace_back(user, a.highlight);
  }
  return out;
}

}  // namespace despatch
