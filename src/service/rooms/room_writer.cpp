#include "service/rooms/room_writer.h"

#include <algorithm>

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
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

RoomWriter::~RoomWriter() {
  if (committed_) return;
  for (auto& id : touched_) svc_.rooms_.erase(id);
}

RoomService::RoomState& RoomWriter::new_room(const std::string& room_id,
                                             const std::string& version) {
  auto st = std::make_shared<RoomService::RoomState>();
  st->version = version;
  touched_.insert(room_id);
  return *(svc_.rooms_[room_id] = std::move(st));
}

Result<RoomService::RoomState*> RoomWriter::room(const std::string& room_id) {
  auto it = svc_.rooms_.find(room_id);
  if (it != svc_.rooms_.end()) return it->second.get();
  DS_ASSIGN(auto row, t_->rooms().room(room_id));
  if (!row) return Error::not_found("Unknown room");
  auto st = std::make_shared<RoomService::RoomState>();
  st->version = row->room_version;
  DS_ASSIGN(auto extremities, t_->events().forward_extremities(room_id));
  for (auto& x : extremities) {
    st->extremities.push_back(x.event_id);
    st->depth = std::max(st->depth, x.depth);
  }
  if (!extremities.empty()) {
    // The current state is the state after the extremities; with one (local history) that is
    // its own state group. Several come from other servers, and state resolution merges them.
    DS_ASSIGN(auto groups, t_->state().event_groups(extremities.front().event_id));
    if (groups) st->state_group = groups->after;
  }
  DS_ASSIGN(auto entries, t_->state().current(room_id));
  for (auto& entry : entries) {
    DS_ASSIGN(auto stored, t_->events().event(entry.event_id));
    if (!stored) return Error::internal("current state names a missing event " + entry.event_id);
    // Authorization sees a redacted state event as redacted (a redacted power_levels event
    // loses its invite level, for instance).
    json::object ev = stored->redacted_by.empty() ? std::move(stored->pdu) : redact_event(stored->pdu, st->version);
    ev["event_id"] = entry.event_id;
    st->state[{entry.type, entry.state_key}] = std::move(ev);
  }
  auto* raw = st.get();
  svc_.rooms_[room_id] = std::move(st);
  return raw;
}

Result<std::optional<std::string>> RoomWriter::find_txn(const std::string& user,
                                                        const TxnRef& txn) {
  return t_->events().txn_event(user, txn.device_id, txn.scope + txn.txn_id);
}

Result<json::object> RoomWriter::append(const std::string& room_id, json::object ev,
                                        const TxnRef* txn) {
  DS_TRY(check_event_shape(ev));
  DS_ASSIGN(RoomService::RoomState * room, this->room(room_id));
  touched_.insert(room_id);
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

  const json::object* prior = is_state ? find_state(room->state, type, state_key) : nullptr;
  hash_and_sign_event(ev, svc_.config_.server_name, svc_.key_, room->version);
  DS_TRY(check_event_size(ev));
  std::string event_id = compute_event_id(ev, room->version);
  if (prior) {
    // Unsigned data is outside the hashes: the previous state helps clients render changes.
    json::object& u = ev["unsigned"].emplace_object();
    u["replaces_state"] = prior->at("event_id");
    u["prev_content"] = prior->at("content");
    u["prev_sender"] = prior->at("sender");
  }

  int64_t pos = t_->next_stream_pos();
  std::string relates, rel_type;
  if (auto* c = ev["content"].as_object().if_contains("m.relates_to"); c && c->is_object()) {
    if (auto* e = c->as_object().if_contains("event_id"); e && e->is_string()) relates = e->as_string();
    if (auto* t = c->as_object().if_contains("rel_type"); t && t->is_string()) rel_type = t->as_string();
  }
  storage::NewEvent row{pos, event_id, room_id, type, std::nullopt, sender, ev["origin_server_ts"].as_int64(),
                        json::serialize(ev), std::nullopt, std::nullopt, relates, rel_type};
  if (is_state) row.state_key = state_key;
  row.depth = room->depth + 1;
  for (auto& p : ev["prev_events"].as_array()) row.prev_events.emplace_back(p.as_string());
  if (txn) {
    row.txn_device = txn->device_id;
    row.txn_id = txn->txn_id;
  }
  DS_TRY(t_->events().insert(row));
  // Sending in a room reads everything before it (spec: push, "Marking notifications as read").
  DS_TRY(t_->receipts().clear_notifications_before(room_id, sender, pos));
  if (txn) DS_TRY(t_->events().put_txn(sender, txn->device_id, txn->scope + txn->txn_id, event_id));
  DS_TRY(t_->events().advance_extremities(room_id, row.prev_events, event_id));
  // The state before the event is the room's; a state event starts a new group after it.
  storage::EventStateGroups groups{room->state_group, room->state_group};
  if (is_state) {
    DS_ASSIGN(groups.after, t_->state().add_group(room_id, groups.before, {{type, state_key, event_id}}));
  }
  DS_TRY(t_->state().set_event_groups(event_id, groups));
  if (is_state) {
    DS_TRY(t_->state().set_current(room_id, {type, state_key, event_id, pos}));
    if (type == "m.room.member") {
      std::string membership(ev["content"].as_object()["membership"].as_string());
      DS_TRY(t_->memberships().set({room_id, state_key, membership, pos}, event_id));
      wake_.insert(state_key);
    }
  }
  if (type == "m.room.redaction") {
    const json::value* target = ev.contains("redacts") ? &ev["redacts"] : nullptr;
    if (!target) target = ev["content"].as_object().if_contains("redacts");
    if (target && target->is_string()) {
      std::string target_id(target->as_string());
      DS_TRY(t_->events().mark_redacted(target_id, room_id, event_id));
      for (auto& [key, state_ev] : room->state) {
        if (!is_str(state_ev["event_id"], target_id)) continue;
        state_ev = redact_event(state_ev, room->version);
        state_ev["event_id"] = target_id;
        break;
      }
    }
  }
  // The record goes into the same transaction as the event: nothing is acknowledged unarchived.
  json::object record = ev;
  record["event_id"] = event_id;
  ArchiveEntry entry{pos, event_id, room_id, sender, type, ev["origin_server_ts"].as_int64(), "",
                     "event", canonical_json(record)};
  DS_TRY(svc_.archive_.append(c_, entry));
  // In rooms the keeper has joined, the plaintext of an encrypted event is sealed beside it.
  if (type == "m.room.encrypted" && svc_.keeper_) {
    auto* k = find_state(room->state, "m.room.member", svc_.keeper_user_);
    if (k && k->at("content").as_object().if_contains("membership") && k->at("content").at("membership") == "join")
      DS_TRY(svc_.keeper_->on_encrypted_event(c_, record, pos));
  }
  // Everything stored: now the cache may change.
  // Extremities left out of prev_events (more than the cap) stay; the new event is deepest.
  std::vector<std::string> rest(room->extremities.begin() + static_cast<long>(row.prev_events.size()),
                                room->extremities.end());
  room->extremities = {event_id};
  room->extremities.insert(room->extremities.end(), rest.begin(), rest.end());
  room->depth += 1;
  room->state_group = groups.after;
  ev["event_id"] = event_id;
  if (is_state) room->state[{type, state_key}] = ev;
  DS_TRY(store_notifications(*room, ev, pos));
  for (auto& m : room_members(room->state, true)) wake_.insert(m);
  return ev;
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
    if (m && is_str(*m, "leave"))
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

Status RoomWriter::store_notifications(const RoomService::RoomState& room,
                                       const json::object& event, int64_t pos) {
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
    DS_TRY(t_->receipts().add_notification(std::string(event.at("room_id").as_string()), user, pos, a.highlight));
  }
  return ok_status();
}

}  // namespace despatch
