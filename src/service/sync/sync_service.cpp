#include "service/sync/sync_service.h"

#include "core/canonical_json.h"
#include "service/rooms/member_events.h"
#include "storage/remote_membership_store.h"

#include "service/common/time.h"
#include "service/rooms/visibility.h"
#include "service/sync/timeline.h"
#include "storage/account_data_store.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/receipt_store.h"

#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

// The last `limit` events in (lower, upper] that the user may see and the filter keeps,
// oldest first; *limited when older ones were left out.
// The users in the user's m.ignored_user_list account data.
Result<std::set<std::string>> ignored_users(storage::Stores& s, const std::string& user) {
  std::set<std::string> out;
  DS_ASSIGN(auto list, s.account_data().get(user, "", "m.ignored_user_list"));
  if (!list) return out;
  if (auto* users = list->if_contains("ignored_users"); users && users->is_object())
    for (auto& entry : users->as_object()) out.insert(std::string(entry.key()));
  return out;
}

bool from_ignored_sender(const StoredEvent& e, const std::set<std::string>& ignored) {
  auto* sender = e.pdu.if_contains("sender");
  return sender && sender->is_string() && ignored.count(std::string(sender->as_string()));
}

// Events of ignored users are not sent, except state events (ignore_users.md: the room
// must not look different because its sender is ignored).
bool from_ignored(const StoredEvent& e, const std::set<std::string>& ignored) {
  return !ignored.empty() && !e.pdu.contains("state_key") && from_ignored_sender(e, ignored);
}

Result<std::vector<StoredEvent>> pick_timeline(storage::Stores& s, const std::string& room_id,
                                               const Visibility& vis, const RoomEventFilter& filter, int64_t upper,
                                               int64_t lower, int limit, bool* limited,
                                               const std::set<std::string>& ignored) {
  std::vector<StoredEvent> picked;
  *limited = false;
  int64_t cursor = upper;
  for (bool more = true; more && static_cast<int>(picked.size()) < limit;) {
    const int page = limit + 10;
    DS_ASSIGN(auto events, s.events().room_events(room_id, storage::EventRange{lower, cursor, true, page}));
    more = static_cast<int>(events.size()) == page;
    for (auto& e : events) {
      cursor = e.pos - 1;
      if (!vis.can_see(e) || !matches(filter, e.pdu, room_id) || from_ignored(e, ignored)) continue;
      if (static_cast<int>(picked.size()) == limit) {
        *limited = true;
        break;
      }
      picked.push_back(std::move(e));
    }
    if (static_cast<int>(picked.size()) == limit && !*limited) {
      DS_ASSIGN(*limited, s.events().has_events(room_id, lower, cursor));
      break;
    }
  }
  std::reverse(picked.begin(), picked.end());
  return picked;
}

// The filter's event_fields: only the listed fields of each event (all when none are listed).
json::object shaped(const SyncRequest& req, json::object ev) {
  if (req.filter->event_fields.empty()) return ev;
  return apply_event_fields(ev, req.filter->event_fields);
}

// Each user's latest member event at or before pos.
Result<std::vector<StoredEvent>> member_events(storage::Stores& s, const std::string& room_id,
                                               const std::set<std::string>& users, int64_t pos) {
  std::vector<StoredEvent> out;
  for (auto& u : users) {
    DS_ASSIGN(auto e, s.events().state_event_at(room_id, "m.room.member", u, pos));
    if (e) out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace

const std::shared_ptr<const Filter>& SyncRequest::default_filter() {
  static const std::shared_ptr<const Filter> none = std::make_shared<const Filter>();
  return none;
}

std::optional<SyncToken> SyncToken::parse(std::string_view s) {
  auto pos = parse_stream_token(s);
  // Negative positions are history's (/messages), never a point in the stream.
  if (!pos || *pos < 0) return std::nullopt;
  SyncToken t{*pos, 0, 0, 0};
  uint64_t parts[3] = {0, 0, 0};
  size_t n = 0;
  auto us = s.find('_');
  while (us != std::string_view::npos) {
    if (n == 3) return std::nullopt;
    size_t end = s.find('_', us + 1);
    std::string_view part = s.substr(us + 1, end == std::string_view::npos ? end : end - us - 1);
    if (part.empty() || part.size() > 18) return std::nullopt;
    uint64_t v = 0;
    for (char ch : part) {
      if (ch < '0' || ch > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(ch - '0');
    }
    parts[n++] = v;
    us = end;
  }
  t.typing = parts[0];
  t.to_device = static_cast<int64_t>(parts[1]);
  t.presence = parts[2];
  return t;
}

std::string SyncToken::str() const {
  return "s" + std::to_string(pos) + "_" + std::to_string(typing) + "_" + std::to_string(to_device) + "_" +
         std::to_string(presence);
}

std::vector<std::string> SyncService::joined_members(const std::string& room_id) {
  std::vector<std::string> out;
  auto users = rooms_.db().read().memberships().users_with(room_id, "join");
  if (users.ok()) out = std::move(*users);
  return out;
}

asio::awaitable<Result<json::object>> SyncService::sync(const SyncRequest& req) {
  std::optional<SyncToken> since;
  if (!req.since.empty()) {
    since = SyncToken::parse(req.since);
    if (!since) co_return Error::invalid_param("Invalid since token");
  }
  if (since && since->to_device > 0) {
    // The client got everything up to since->to_device: those messages may go.
    co_await keys_.ack_to_device(req.user_id, req.device_id, since->to_device);
  }
  presence_.syncing(req.user_id, req.set_presence);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
  for (;;) {
    uint64_t serial = notifier_.serial(req.user_id);
    // After reading the serial: a change committed later wakes the wait below at once.
    if (session_check_) DS_CO_TRY(session_check_(req.user_id, req.device_id));
    SyncToken upto{rooms_.db().committed_stream_pos(), typing_.serial(), since ? since->to_device : 0,
                   presence_.serial()};
    if (since && since->pos > upto.pos) since->pos = upto.pos;  // a token from a wiped server
    bool empty = false;
    auto r = build(req, since, upto, &empty);
    if (!r.ok() || !empty || !since) co_return r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return r;
    r = json::object{};  // an empty answer is rebuilt after the wait: hold nothing while parked
    co_await notifier_.wait(req.user_id, serial, left);
  }
}

Result<json::object> SyncService::build(const SyncRequest& req,
                                        const std::optional<SyncToken>& since,
                                        const SyncToken& upto, bool* empty) {
  storage::Stores& s = rooms_.db().read();
  const std::string& user = req.user_id;
  int64_t from = since ? since->pos : 0;
  *empty = true;
  SyncToken next = upto;

  std::set<std::string> changed;
  if (since) {
    DS_ASSIGN(auto with_events, s.events().rooms_changed(from, upto.pos));
    DS_ASSIGN(auto with_receipts, s.receipts().rooms_changed(from, upto.pos));
    DS_ASSIGN(auto with_data, s.account_data().rooms_changed(user, from, upto.pos));
    for (auto* rooms : {&with_events, &with_receipts, &with_data}) changed.insert(rooms->begin(), rooms->end());
  }

  DS_ASSIGN(auto memberships, s.memberships().rooms_of(user, upto.pos));
  DS_ASSIGN(auto ignored, ignored_users(s, user));
  json::object join, invite, leave, knock;
  for (auto& m : memberships) {
    const std::string& room_id = m.room_id;
    const std::string& membership = m.membership;
    int64_t pos = m.stream_pos;
    if (!room_allowed(req.filter->room, room_id)) continue;
    if (membership == "join") {
      uint64_t typing_serial = 0;
      typing_.typing_in(room_id, &typing_serial);
      bool typing_changed = since && typing_serial > since->typing;
      if (since && !req.full_state && !changed.count(room_id) && !typing_changed) continue;
      bool room_empty = true;
      DS_ASSIGN(json::object r, joined_room(s, req, room_id, pos, since, upto, &room_empty));
      if (room_empty && since && !req.full_state) continue;
      join[room_id] = std::move(r);
      *empty = false;
    } else if (membership == "invite") {
      if (since && pos <= since->pos) continue;
      // Invites from ignored users are not sent (ignore_users.md).
      if (!ignored.empty()) {
        DS_ASSIGN(auto invite_event, s.events().state_event_at(room_id, "m.room.member", user, upto.pos));
        if (invite_event && from_ignored_sender(*invite_event, ignored)) continue;
      }
      DS_ASSIGN(json::object st, invite_state(s, room_id, user));
      invite[room_id] = json::object{{"invite_state", json::object{{"events", std::move(st["events"])}}}};
      *empty = false;
    } else if (membership == "knock") {
      if (since && pos <= since->pos) continue;
      DS_ASSIGN(json::object st, invite_state(s, room_id, user));
      knock[room_id] = json::object{{"knock_state", json::object{{"events", std::move(st["events"])}}}};
      *empty = false;
    } else if (membership == "leave" || membership == "ban") {
      if (since ? pos <= since->pos : !req.filter->room.include_leave) continue;
      DS_ASSIGN(json::object r, left_room(s, req, room_id, pos, since));
      leave[room_id] = std::move(r);
      *empty = false;
    }
  }
  DS_TRY(add_remote_memberships(s, req, since, upto, invite, knock, leave, empty));

  json::array account_data;
  bool have_push_rules = false;
  DS_ASSIGN(auto ad, s.account_data().changed(user, "", from, upto.pos));
  for (auto& entry : ad) {
    json::object ev{{"type", entry.type}, {"content", std::move(entry.content)}};
    if (!matches(req.filter->account_data, ev)) continue;
    have_push_rules |= entry.type == "m.push_rules";
    account_data.push_back(std::move(ev));
  }
  if (!since && !have_push_rules) {
    json::object ev{{"type", "m.push_rules"}, {"content", *push_.effective(user)}};
    if (matches(req.filter->account_data, ev)) account_data.push_back(std::move(ev));
  }
  if (!account_data.empty()) *empty = false;

  DS_ASSIGN(json::array to_device, keys_.pending_to_device(s, user, req.device_id, upto.to_device,
                                                          upto.pos, &next.to_device));
  if (!to_device.empty()) *empty = false;
  json::array lists_changed, lists_left;
  if (since) {
    DS_ASSIGN(DeviceListDelta d, keys_.device_list_delta(s, user, since->pos, upto.pos));
    for (auto& u : d.changed) lists_changed.push_back(json::string(u));
    for (auto& u : d.left) lists_left.push_back(json::string(u));
    if (!lists_changed.empty() || !lists_left.empty()) *empty = false;
  }
  DS_ASSIGN(json::array presence, presence_events(s, req, since));
  if (!presence.empty()) *empty = false;
  DS_ASSIGN(json::object otk_counts, keys_.one_time_key_counts(s, user, req.device_id));
  DS_ASSIGN(json::array fallback, keys_.unused_fallback_types(s, user, req.device_id));

  json::object rooms{{"join", std::move(join)}, {"invite", std::move(invite)},
                     {"leave", std::move(leave)}, {"knock", std::move(knock)}};
  return json::object{{"next_batch", next.str()},
                      {"rooms", std::move(rooms)},
                      {"account_data", json::object{{"events", std::move(account_data)}}},
                      {"presence", json::object{{"events", std::move(presence)}}},
                      {"to_device", json::object{{"events", std::move(to_device)}}},
                      {"device_lists", json::object{{"changed", std::move(lists_changed)}, {"left", std::move(lists_left)}}},
                      {"device_one_time_keys_count", std::move(otk_counts)},
                      {"device_unused_fallback_key_types", std::move(fallback)}};
}

Result<json::object> SyncService::joined_room(storage::Stores& s, const SyncRequest& req,
                                              const std::string& room_id, int64_t member_pos,
                                              const std::optional<SyncToken>& since,
                                              const SyncToken& upto, bool* empty) {
  DS_ASSIGN(std::string version, rooms_.room_version(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, req.user_id));
  const RoomFilter& rf = req.filter->room;
  bool fresh = !since || req.full_state || member_pos > since->pos;
  int limit = effective_limit(rf.timeline);
  int64_t lower = fresh ? 0 : since->pos;

  bool limited = false;
  DS_ASSIGN(auto ignored, ignored_users(s, req.user_id));
  DS_ASSIGN(auto picked, pick_timeline(s, room_id, vis, rf.timeline, upto.pos, lower, limit, &limited, ignored));
  int64_t first_pos = picked.empty() ? upto.pos + 1 : picked.front().pos;

  json::array timeline;
  std::set<std::string> senders{req.user_id};
  for (auto& e : picked) {
    senders.insert(std::string(e.pdu["sender"].as_string()));
    timeline.push_back(shaped(req, client_event(s, e, version, req.device_id)));
  }

  json::array state;
  if (fresh || limited) {
    DS_ASSIGN(auto st, state_at(s, room_id, first_pos - 1));
    for (auto& e : st) {
      if (!matches(rf.state, e.pdu, room_id)) continue;
      bool member = e.pdu["type"] == "m.room.member";
      bool sender_member = member && senders.count(std::string(e.pdu["state_key"].as_string()));
      if (rf.state.lazy_load_members && member && !sender_member) continue;
      // The client has what it was sent before `since`; lazy-loaded members it may not.
      if (!fresh && e.pos <= since->pos && !(rf.state.lazy_load_members && sender_member)) continue;
      state.push_back(shaped(req, client_event(s, e, version)));
    }
  } else if (rf.state.lazy_load_members && !picked.empty()) {
    // An incremental sync still owes the member events of the timeline's senders.
    std::set<std::string> timeline_senders;
    for (auto& e : picked) timeline_senders.insert(std::string(e.pdu["sender"].as_string()));
    DS_ASSIGN(auto members, member_events(s, room_id, timeline_senders, first_pos - 1));
    for (auto& e : members)
      if (matches(rf.state, e.pdu, room_id)) state.push_back(shaped(req, client_event(s, e, version)));
  }

  json::array ephemeral;
  uint64_t typing_serial = 0;
  auto typers = typing_.typing_in(room_id, &typing_serial);
  if ((fresh && !typers.empty()) || (since && typing_serial > since->typing)) {
    json::array ids;
    for (auto& u : typers) ids.push_back(json::string(u));
    json::object ev{{"type", "m.typing"}, {"content", json::object{{"user_ids", ids}}}};
    if (matches(rf.ephemeral, ev, room_id)) ephemeral.push_back(std::move(ev));
  }
  DS_ASSIGN(auto receipts, s.receipts().receipts_changed(room_id, fresh ? int64_t{0} : since->pos, upto.pos));
  json::object rc;  // event_id -> receipt type -> user -> info
  for (auto& r : receipts) {
    if (r.receipt_type == "m.read.private" && r.user_id != req.user_id) continue;
    json::object info{{"ts", r.ts}};
    if (!r.thread_id.empty()) info["thread_id"] = r.thread_id;
    json::value& ev = rc[r.event_id];
    if (!ev.is_object()) ev = json::object{};
    json::value& ty = ev.as_object()[r.receipt_type];
    if (!ty.is_object()) ty = json::object{};
    ty.as_object()[r.user_id] = std::move(info);
  }
  {
    json::object ev{{"type", "m.receipt"}, {"content", rc}};
    if (!rc.empty() && matches(rf.ephemeral, ev, room_id)) ephemeral.push_back(std::move(ev));
  }

  json::array room_data;
  DS_ASSIGN(auto ad, s.account_data().changed(req.user_id, room_id, fresh ? int64_t{0} : since->pos, upto.pos));
  for (auto& entry : ad) {
    json::object ev{{"type", entry.type}, {"content", std::move(entry.content)}};
    if (matches(rf.account_data, ev, room_id)) room_data.push_back(std::move(ev));
  }

  DS_ASSIGN(int64_t read_pos, s.receipts().read_up_to(room_id, req.user_id));
  DS_ASSIGN(auto counts, s.receipts().count_notifications(room_id, req.user_id, read_pos, upto.pos));

  json::object summary;
  DS_ASSIGN(auto members, s.memberships().joined_and_invited(room_id));
  int64_t joined = 0, invited = 0;
  json::array heroes;
  // The records keeper is in every room it covers; counting it would name a direct chat
  // "Ada and Records keeper" and make a two-person chat look like a group.
  const std::string keeper = rooms_.config().keeper_user_id();
  for (auto& m : members) {
    if (!keeper.empty() && m.user_id == keeper) continue;
    (m.membership == "join" ? joined : invited)++;
    if (m.user_id != req.user_id && heroes.size() < 5) heroes.push_back(json::string(m.user_id));
  }
  // Heroes name a room that has no name of its own (sync.yaml); a named room needs none.
  bool named = false;
  for (auto [type, key] : {std::pair{"m.room.name", "name"}, std::pair{"m.room.canonical_alias", "alias"}}) {
    DS_ASSIGN(auto ev, s.events().state_event_at(room_id, type, "", upto.pos));
    if (!ev) continue;
    auto* c = ev->pdu.if_contains("content");
    auto* v = c && c->is_object() ? c->as_object().if_contains(key) : nullptr;
    named |= v && v->is_string() && !v->as_string().empty();
  }
  if (!named) summary["m.heroes"] = std::move(heroes);
  summary["m.joined_member_count"] = joined;
  summary["m.invited_member_count"] = invited;

  *empty = timeline.empty() && state.empty() && ephemeral.empty() && room_data.empty();
  json::object tl{{"events", std::move(timeline)}, {"limited", limited},
                  {"prev_batch", stream_token(first_pos - 1)}};
  return json::object{
      {"timeline", std::move(tl)},
      {"state", json::object{{"events", std::move(state)}}},
      {"ephemeral", json::object{{"events", std::move(ephemeral)}}},
      {"account_data", json::object{{"events", std::move(room_data)}}},
      {"summary", std::move(summary)},
      {"unread_notifications", json::object{{"notification_count", counts.notifications},
                                            {"highlight_count", counts.highlights}}}};
}

Result<json::object> SyncService::left_room(storage::Stores& s, const SyncRequest& req,
                                            const std::string& room_id, int64_t leave_pos,
                                            const std::optional<SyncToken>& since) {
  DS_ASSIGN(std::string version, rooms_.room_version(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, req.user_id));
  const RoomFilter& rf = req.filter->room;
  bool limited = false;
  // Only what the user was allowed to see: someone who never joined (a rejected or withdrawn
  // invite, a pre-emptive ban) gets their own member event and nothing of the room's history.
  DS_ASSIGN(auto ignored, ignored_users(s, req.user_id));
  DS_ASSIGN(auto picked, pick_timeline(s, room_id, vis, rf.timeline, leave_pos, since ? since->pos : 0,
                                       effective_limit(rf.timeline), &limited, ignored));
  int64_t first_pos = picked.empty() ? leave_pos : picked.front().pos;
  json::array timeline;
  for (auto& e : picked) timeline.push_back(shaped(req, client_event(s, e, version, req.device_id)));
  json::array state;
  DS_ASSIGN(auto st, state_at(s, room_id, first_pos - 1));
  for (auto& e : st)
    if ((!since || e.pos > since->pos) && vis.can_see(e) && matches(rf.state, e.pdu, room_id))
      state.push_back(shaped(req, client_event(s, e, version)));
  return json::object{
      {"timeline", json::object{{"events", std::move(timeline)}, {"limited", limited},
                                {"prev_batch", stream_token(first_pos - 1)}}},
      {"state", json::object{{"events", std::move(state)}}},
      {"account_data", json::object{{"events", json::array{}}}}};
}

Result<json::array> SyncService::presence_events(storage::Stores& s, const SyncRequest& req,
                                                const std::optional<SyncToken>& since) {
  json::array out;
  // A serial beyond ours is a token from before a restart, which forgot everything: send all.
  uint64_t from = since && since->presence <= presence_.serial() ? since->presence : 0;
  // Users who came to share a room with the user since the token (the user joined it, or
  // they did): the client has never been told their presence, changed or not.
  std::set<std::string> met;
  if (since) {
    int64_t now_pos = rooms_.db().committed_stream_pos();
    DS_ASSIGN(auto mine, s.memberships().rooms_of(req.user_id, now_pos));
    std::set<std::string> joined;
    for (auto& m : mine) {
      if (m.membership != "join") continue;
      joined.insert(m.room_id);
      if (m.stream_pos <= since->pos) continue;
      DS_ASSIGN(auto members, s.memberships().users_with(m.room_id, "join"));
      met.insert(members.begin(), members.end());
    }
    DS_ASSIGN(auto changes, s.events().member_changes(since->pos, now_pos));
    for (auto& [room_id, user] : changes)
      if (joined.count(room_id)) met.insert(user);
    met.erase(req.user_id);
  }
  if (since && from == presence_.serial() && met.empty()) return out;
  DS_ASSIGN(auto others, s.memberships().co_members(req.user_id));
  std::set<std::string> users(others.begin(), others.end());
  users.insert(req.user_id);
  int64_t now = now_ms();
  std::set<std::string> sent;
  auto add = [&](const std::string& user, const PresenceState& state) {
    if (!users.count(user) || !sent.insert(user).second) return;
    json::object ev{{"type", "m.presence"}, {"sender", user}, {"content", presence_content(state, now)}};
    if (matches(req.filter->presence, ev)) out.push_back(std::move(ev));
  };
  for (auto& [user, state] : presence_.changed(users, from)) add(user, state);
  if (!met.empty()) {
    for (auto& [user, state] : presence_.changed(met, 0)) add(user, state);
    // Someone never seen since the server started is offline; the keeper is no participant.
    const std::string keeper = rooms_.config().keeper_user_id();
    for (auto& user : met)
      if (user != keeper) add(user, PresenceState{});
  }
  return out;
}

Result<json::object> SyncService::invite_state(storage::Stores& s, const std::string& room_id,
                                               const std::string& user) {
  DS_ASSIGN(auto st, current_state(s, room_id));
  static const std::set<std::string> kStripped = {
      "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
      "m.room.canonical_alias", "m.room.encryption", "m.room.topic"};
  json::array events;
  std::string inviter;
  for (auto& e : st)
    if (is_str(e.pdu["type"], "m.room.member") && is_str(e.pdu["state_key"], user)) inviter = e.pdu["sender"].as_string();
  for (auto& e : st) {
    std::string type(e.pdu["type"].as_string());
    std::string key(e.pdu["state_key"].as_string());
    bool member_of_interest = type == "m.room.member" && (key == user || key == inviter);
    if (!kStripped.count(type) && !member_of_interest) continue;
    json::object ev{{"type", type}, {"state_key", key}, {"content", e.pdu["content"]},
                    {"sender", e.pdu["sender"]}};
    if (key == user && type == "m.room.member") {
      ev["event_id"] = e.event_id;
      ev["origin_server_ts"] = e.pdu["origin_server_ts"];
    }
    events.push_back(std::move(ev));
  }
  return json::object{{"events", std::move(events)}};
}

Status SyncService::add_remote_memberships(storage::Stores& s, const SyncRequest& req,
                                           const std::optional<SyncToken>& since, const SyncToken& upto,
                                           json::object& invite, json::object& knock, json::object& leave,
                                           bool* empty) {
  DS_ASSIGN(auto rows, s.remote_memberships().of_user(req.user_id, upto.pos));
  for (auto& m : rows) {
    if (!room_allowed(req.filter->room, m.room_id)) continue;
    bool fresh = !since || m.stream_pos > since->pos;
    if (m.membership == "leave" ? (since ? !fresh : !req.filter->room.include_leave) : !fresh) continue;
    auto parsed = parse_strict_json(m.event);
    if (!parsed.ok() || !parsed->is_object()) continue;
    json::object ev = stripped_with_id(parsed->as_object());
    if (m.membership == "leave") {
      ev["room_id"] = m.room_id;
      json::object r{{"timeline", json::object{{"events", json::array{ev}}, {"limited", false}}},
                     {"state", json::object{{"events", json::array{}}}},
                     {"account_data", json::object{{"events", json::array{}}}}};
      leave[m.room_id] = std::move(r);
    } else {
      auto stripped = parse_strict_json(m.stripped_state);
      json::array events = stripped.ok() && stripped->is_array() ? stripped->as_array() : json::array{};
      // The member event itself ends the list, with what identifies it.
      events.push_back(std::move(ev));
      const char* key = m.membership == "knock" ? "knock_state" : "invite_state";
      (m.membership == "knock" ? knock : invite)[m.room_id] =
          json::object{{key, json::object{{"events", std::move(events)}}}};
    }
    *empty = false;
  }
  return ok_status();
}

}  // namespace despatch
