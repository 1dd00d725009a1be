#include "service/rooms/room_writer.h"

#include <algorithm>

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/event_format.h"
#include "service/rooms/power_levels.h"

namespace despatch {

using storage::Value;

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
  DS_ASSIGN(auto row, storage::query_one(
                          c_, "SELECT room_version, last_event_id, depth FROM rooms WHERE room_id=?",
                          {room_id}));
  if (!row) return Error::not_found("Unknown room");
  auto st = std::make_shared<RoomService::RoomState>();
  st->version = row->str(0);
  st->last_event_id = row->str(1);
  st->depth = row->i64(2);
  DS_ASSIGN(auto rows, c_.query("SELECT e.event_id, e.json, e.redacted_by FROM current_state s JOIN events e "
                                "ON e.event_id=s.event_id WHERE s.room_id=?",
                                {room_id}));
  for (auto& r : rows) {
    boost::system::error_code ec;
    auto v = json::parse(r.str(1), ec);
    if (ec || !v.is_object()) return Error::internal("corrupt state event " + r.str(0));
    // Authorization sees a redacted state event as redacted (a redacted power_levels event
    // loses its invite level, for instance).
    if (!r.is_null(2)) v = redact_event(v.as_object(), st->version);
    auto& ev = v.as_object();
    ev["event_id"] = r.str(0);
    std::string type(ev["type"].as_string()), key(ev["state_key"].as_string());
    st->state[{type, key}] = std::move(ev);
  }
  auto* raw = st.get();
  svc_.rooms_[room_id] = std::move(st);
  return raw;
}

Result<std::optional<std::string>> RoomWriter::find_txn(const std::string& user,
                                                        const TxnRef& txn) {
  DS_ASSIGN(auto row, storage::query_one(
                          c_, "SELECT event_id FROM txn_ids WHERE user_id=? AND device_id=? AND txn_id=?",
                          {user, txn.device_id, txn.scope + txn.txn_id}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Result<json::object> RoomWriter::append(const std::string& room_id, json::object ev,
                                        const TxnRef* txn) {
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
  if (!room->last_event_id.empty()) prev.push_back(json::string(room->last_event_id));
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
  std::string event_id = compute_event_id(ev, room->version);
  if (prior) {
    // Unsigned data is outside the hashes: the previous state helps clients render changes.
    json::object& u = ev["unsigned"].emplace_object();
    u["replaces_state"] = prior->at("event_id");
    u["prev_content"] = prior->at("content");
    u["prev_sender"] = prior->at("sender");
  }

  int64_t pos = svc_.db_.next_stream_pos();
  std::string relates, rel_type;
  if (auto* c = ev["content"].as_object().if_contains("m.relates_to"); c && c->is_object()) {
    if (auto* e = c->as_object().if_contains("event_id"); e && e->is_string()) relates = e->as_string();
    if (auto* t = c->as_object().if_contains("rel_type"); t && t->is_string()) rel_type = t->as_string();
  }
  DS_TRY(c_.exec("INSERT INTO events(stream_pos, event_id, room_id, type, state_key, sender, "
                 "origin_server_ts, json, txn_device, txn_id, relates_to, rel_type) "
                 "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                 {pos, event_id, room_id, type, is_state ? Value(state_key) : Value(nullptr), sender,
                  ev["origin_server_ts"].as_int64(), json::serialize(ev),
                  txn ? Value(txn->device_id) : Value(nullptr), txn ? Value(txn->txn_id) : Value(nullptr),
                  relates.empty() ? Value(nullptr) : Value(relates),
                  rel_type.empty() ? Value(nullptr) : Value(rel_type)}));
  // Sending in a room reads everything before it (spec: push, "Marking notifications as read").
  DS_TRY(c_.exec("DELETE FROM notifications WHERE room_id=? AND user_id=? AND stream_pos<?",
                 {room_id, sender, pos}));
  if (txn)
    DS_TRY(c_.exec("INSERT INTO txn_ids(user_id, device_id, txn_id, event_id) VALUES(?,?,?,?)",
                   {sender, txn->device_id, txn->scope + txn->txn_id, event_id}));
  if (is_state) {
    DS_TRY(c_.exec("INSERT INTO current_state(room_id, type, state_key, event_id, stream_pos) "
                   "VALUES(?,?,?,?,?) ON CONFLICT(room_id, type, state_key) DO UPDATE SET "
                   "event_id=excluded.event_id, stream_pos=excluded.stream_pos",
                   {room_id, type, state_key, event_id, pos}));
    if (type == "m.room.member") {
      std::string membership(ev["content"].as_object()["membership"].as_string());
      DS_TRY(c_.exec("INSERT INTO memberships(room_id, user_id, membership, event_id, stream_pos) "
                     "VALUES(?,?,?,?,?) ON CONFLICT(room_id, user_id) DO UPDATE SET "
                     "membership=excluded.membership, event_id=excluded.event_id, "
                     "stream_pos=excluded.stream_pos, forgotten=0",
                     {room_id, state_key, membership, event_id, pos}));
      wake_.insert(state_key);
    }
  }
  if (type == "m.room.redaction") {
    const json::value* target = ev.contains("redacts") ? &ev["redacts"] : nullptr;
    if (!target) target = ev["content"].as_object().if_contains("redacts");
    if (target && target->is_string()) {
      std::string target_id(target->as_string());
      DS_TRY(c_.exec("UPDATE events SET redacted_by=? WHERE event_id=? AND room_id=? AND redacted_by IS NULL",
                     {event_id, target_id, room_id}));
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
  DS_TRY(c_.exec("UPDATE rooms SET last_event_id=?, depth=? WHERE room_id=?",
                 {event_id, room->depth + 1, room_id}));

  // Everything stored: now the cache may change.
  room->last_event_id = event_id;
  room->depth += 1;
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
    DS_TRY(c_.exec("INSERT INTO notifications(room_id, user_id, stream_pos, highlight) VALUES(?,?,?,?)",
                   {std::string(event.at("room_id").as_string()), user, pos,
                    int64_t{a.highlight ? 1 : 0}}));
  }
  return ok_status();
}

}  // namespace despatch
