// The deprecated event stream (/events) and snapshots (/initialSync and the per-room one):
// older clients and bridges still call them, and the spec still defines them. They read
// the same stores as /sync; tokens are SyncTokens, so an /initialSync `end` can start an
// /events stream and an /events `end` is a valid `from`.
#include "service/sync/sync_service.h"

#include "service/common/time.h"
#include "service/rooms/event_view.h"
#include "service/rooms/visibility.h"
#include "service/sync/timeline.h"
#include "storage/account_data_store.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/receipt_store.h"

#include <algorithm>
#include <map>
#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

// The m.receipt event for the receipts of room_id in (from, to] that user may see, or
// nullopt when there are none.
Result<std::optional<json::object>> receipt_event(storage::Stores& s, const std::string& user,
                                                  const std::string& room_id, int64_t from, int64_t to) {
  DS_ASSIGN(auto receipts, s.receipts().receipts_changed(room_id, from, to));
  json::object content;  // event_id -> receipt type -> user -> info
  for (auto& r : receipts) {
    if (r.receipt_type == "m.read.private" && r.user_id != user) continue;
    json::object info{{"ts", r.ts}};
    if (!r.thread_id.empty()) info["thread_id"] = r.thread_id;
    json::value& ev = content[r.event_id];
    if (!ev.is_object()) ev = json::object{};
    json::value& ty = ev.as_object()[r.receipt_type];
    if (!ty.is_object()) ty = json::object{};
    ty.as_object()[r.user_id] = std::move(info);
  }
  if (content.empty()) return std::optional<json::object>{};
  return std::optional<json::object>{
      json::object{{"type", "m.receipt"}, {"room_id", room_id}, {"content", std::move(content)}}};
}

// The user's account data of one room (or the global one for ""), changed in (from, to].
Result<json::array> account_data_events(storage::Stores& s, const std::string& user, const std::string& room_id,
                                        int64_t from, int64_t to) {
  json::array out;
  DS_ASSIGN(auto entries, s.account_data().changed(user, room_id, from, to));
  for (auto& e : entries) {
    json::object ev{{"type", e.type}, {"content", std::move(e.content)}};
    if (!room_id.empty()) ev["room_id"] = room_id;
    out.push_back(std::move(ev));
  }
  return out;
}

// Events as the first client API gave them: with room_id, and the sender also as user_id,
// which clients of these endpoints still read.
json::object with_room_id(json::object ev, const std::string& room_id) {
  ev["room_id"] = room_id;
  if (auto* sender = ev.if_contains("sender")) ev["user_id"] = *sender;
  return ev;
}

// m.presence events of these endpoints: the user also in content.user_id, and the optional
// fields present (null when unset). Users with no presence yet are offline.
json::array legacy_presence(Presence& presence, const std::set<std::string>& users, uint64_t since,
                            bool include_unknown) {
  int64_t now = now_ms();
  json::array out;
  std::set<std::string> known;
  auto add = [&](const std::string& u, json::object content) {
    content["user_id"] = u;
    for (const char* k : {"status_msg", "last_active_ago"})
      if (!content.contains(k)) content[k] = nullptr;
    out.push_back(json::object{{"type", "m.presence"}, {"sender", u}, {"content", std::move(content)}});
  };
  for (auto& [u, st] : presence.changed(users, since)) {
    known.insert(u);
    add(u, presence_content(st, now));
  }
  if (include_unknown)
    for (auto& u : users)
      if (!known.count(u)) add(u, json::object{{"presence", "offline"}});
  return out;
}

}  // namespace

asio::awaitable<Result<json::object>> SyncService::events(const std::string& user, const std::string& device,
                                                          const std::string& from,
                                                          const std::string& room_id, int limit,
                                                          int64_t timeout_ms) {
  std::optional<SyncToken> since;
  if (!from.empty()) {
    since = SyncToken::parse(from);
    if (!since) co_return Error::invalid_param("Invalid from token");
  }
  presence_.syncing(user, "online");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    uint64_t serial = notifier_.serial(user);
    if (session_check_) DS_CO_TRY(session_check_(user, device));
    SyncToken upto{rooms_.db().committed_stream_pos(), typing_.serial(), 0, presence_.serial()};
    // Without `from` the stream starts now: only what arrives while the request waits.
    if (!since) since = upto;
    if (since->pos > upto.pos) since->pos = upto.pos;  // a token from a wiped server
    bool empty = true;
    auto r = stream_batch(rooms_.db().read(), user, *since, upto, room_id, limit, &empty);
    if (!r.ok() || !empty) co_return r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return r;
    r = json::object{};
    co_await notifier_.wait(user, serial, left);
  }
}

Result<json::object> SyncService::stream_batch(storage::Stores& s, const std::string& user, const SyncToken& from,
                                               const SyncToken& upto, const std::string& only_room, int limit,
                                               bool* empty) {
  // Rooms whose events the user may read in the range: joined ones, and those they left,
  // were invited to or banned from within it (up to that event). One named room is read as
  // its visibility rules allow, joined or not.
  std::map<std::string, int64_t> rooms;  // room -> last position readable
  if (!only_room.empty()) {
    DS_ASSIGN(Visibility vis, Visibility::load(s, only_room, user));
    if (!vis.may_read_room()) return Error::forbidden("You may not read this room's events");
    rooms[only_room] = upto.pos;
  } else {
    DS_ASSIGN(auto memberships, s.memberships().rooms_of(user, upto.pos));
    for (auto& m : memberships) {
      if (m.membership == "join") rooms[m.room_id] = upto.pos;
      else if (m.stream_pos > from.pos) rooms[m.room_id] = m.stream_pos;
    }
  }

  DS_ASSIGN(auto with_events, s.events().rooms_changed(from.pos, upto.pos));
  std::vector<std::pair<int64_t, json::object>> picked;
  // The batch ends where it is complete in every room: a room with more than `limit`
  // events in the range is read up to its limit-th, and nothing after that position is
  // sent from any room this time.
  int64_t end_pos = upto.pos;
  for (auto& room_id : with_events) {
    auto it = rooms.find(room_id);
    if (it == rooms.end()) continue;
    DS_ASSIGN(std::string version, rooms_.room_version(room_id));
    DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
    DS_ASSIGN(auto events,
              s.events().room_events(room_id, storage::EventRange{from.pos, it->second, false, limit + 1}));
    if (static_cast<int>(events.size()) > limit) {
      end_pos = std::min(end_pos, events[static_cast<size_t>(limit) - 1].pos);
      events.pop_back();
    }
    for (auto& e : events)
      if (vis.can_see(e)) picked.emplace_back(e.pos, with_room_id(client_event(s, e, version), room_id));
  }
  std::sort(picked.begin(), picked.end(), [](auto& a, auto& b) { return a.first < b.first; });
  while (!picked.empty() && picked.back().first > end_pos) picked.pop_back();
  if (static_cast<int>(picked.size()) > limit) {
    picked.resize(static_cast<size_t>(limit));
    end_pos = picked.back().first;
  }
  SyncToken end = upto;
  end.to_device = 0;
  bool truncated = end_pos < upto.pos;
  if (truncated) {
    end.pos = end_pos;
    // What is not positioned in the event stream waits for the batch that reaches now.
    end.typing = from.typing;
    end.presence = from.presence;
  }
  json::array chunk;
  for (auto& [pos, ev] : picked) chunk.push_back(std::move(ev));

  // Receipts and account data carry stream positions too: those up to the batch's end.
  DS_ASSIGN(auto with_receipts, s.receipts().rooms_changed(from.pos, end.pos));
  for (auto& room_id : with_receipts) {
    if (!rooms.count(room_id)) continue;
    DS_ASSIGN(auto ev, receipt_event(s, user, room_id, from.pos, end.pos));
    if (ev) chunk.push_back(std::move(*ev));
  }
  if (only_room.empty()) {
    DS_ASSIGN(json::array global, account_data_events(s, user, "", from.pos, end.pos));
    for (auto& ev : global) chunk.push_back(std::move(ev));
    DS_ASSIGN(auto with_data, s.account_data().rooms_changed(user, from.pos, end.pos));
    for (auto& room_id : with_data) {
      DS_ASSIGN(json::array data, account_data_events(s, user, room_id, from.pos, end.pos));
      for (auto& ev : data) chunk.push_back(std::move(ev));
    }
  }
  if (!truncated) {
    for (auto& [room_id, last] : rooms) {
      if (last != upto.pos) continue;  // typing is only for rooms the user is in
      uint64_t serial = 0;
      auto typers = typing_.typing_in(room_id, &serial);
      if (serial <= from.typing) continue;
      json::array ids;
      for (auto& u : typers) ids.push_back(json::string(u));
      chunk.push_back(json::object{{"type", "m.typing"}, {"room_id", room_id},
                                   {"content", json::object{{"user_ids", std::move(ids)}}}});
    }
    // Presence of those the user shares a room with, or of the one room's members.
    std::set<std::string> users;
    if (only_room.empty()) {
      DS_ASSIGN(auto others, s.memberships().co_members(user));
      users.insert(others.begin(), others.end());
      users.insert(user);
    } else {
      DS_ASSIGN(auto members, s.memberships().users_with(only_room, "join"));
      users.insert(members.begin(), members.end());
    }
    // A serial beyond ours is a token from before a restart, which forgot everything.
    uint64_t since = from.presence <= presence_.serial() ? from.presence : 0;
    if (since < presence_.serial())
      for (auto& ev : legacy_presence(presence_, users, since, false)) chunk.push_back(std::move(ev));
  }
  // A batch cut short is never empty: the client is owed the rest without waiting.
  *empty = chunk.empty() && !truncated;
  return json::object{{"start", from.str()}, {"end", end.str()}, {"chunk", std::move(chunk)}};
}

Result<json::object> SyncService::room_snapshot(storage::Stores& s, const std::string& user,
                                                const std::string& room_id, const std::string& membership,
                                                int64_t upper, int limit) {
  DS_ASSIGN(std::string version, rooms_.room_version(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  json::object out{{"room_id", room_id}, {"membership", membership}};

  // The last `limit` messages the user may see, oldest first.
  std::vector<StoredEvent> picked;
  int64_t cursor = upper;
  for (bool more = true; more && static_cast<int>(picked.size()) < limit;) {
    const int page = limit + 10;
    DS_ASSIGN(auto events, s.events().room_events(room_id, storage::EventRange{0, cursor, true, page}));
    more = static_cast<int>(events.size()) == page;
    for (auto& e : events) {
      cursor = e.pos - 1;
      if (!vis.can_see(e)) continue;
      picked.push_back(std::move(e));
      if (static_cast<int>(picked.size()) == limit) break;
    }
  }
  std::reverse(picked.begin(), picked.end());
  int64_t first_pos = picked.empty() ? upper + 1 : picked.front().pos;
  json::array chunk;
  for (auto& e : picked) chunk.push_back(with_room_id(client_event(s, e, version), room_id));
  out["messages"] = json::object{{"chunk", std::move(chunk)}, {"start", stream_token(first_pos - 1)},
                                 {"end", stream_token(upper)}};

  json::array state;
  if (membership == "invite") {
    DS_ASSIGN(json::object st, invite_state(s, room_id, user));
    state = std::move(st["events"].as_array());
  } else {
    DS_ASSIGN(auto st, state_at(s, room_id, upper));
    for (auto& e : st) state.push_back(with_room_id(client_event(s, e, version), room_id));
  }
  out["state"] = std::move(state);

  DS_ASSIGN(json::array data, account_data_events(s, user, room_id, 0, upper));
  for (auto& ev : data) ev.as_object().erase("room_id");
  out["account_data"] = std::move(data);

  json::array presence, receipts;
  if (membership == "join") {
    DS_ASSIGN(auto members, s.memberships().users_with(room_id, "join"));
    std::set<std::string> users(members.begin(), members.end());
    presence = legacy_presence(presence_, users, 0, true);
    DS_ASSIGN(auto rc, receipt_event(s, user, room_id, 0, upper));
    if (rc) receipts.push_back(std::move(*rc));
  }
  out["presence"] = std::move(presence);
  out["receipts"] = std::move(receipts);
  // Whether the room is in the public room directory.
  DS_ASSIGN(bool listed, rooms_.get_visibility(room_id));
  out["visibility"] = listed ? "public" : "private";
  return out;
}

Result<json::object> SyncService::initial_sync(const std::string& user, int limit, bool archived) {
  presence_.syncing(user, "online");  // a sync like any other
  storage::Stores& s = rooms_.db().read();
  SyncToken upto{rooms_.db().committed_stream_pos(), typing_.serial(), 0, presence_.serial()};
  DS_ASSIGN(auto memberships, s.memberships().rooms_of(user, upto.pos));
  json::array rooms, receipts;
  for (auto& m : memberships) {
    bool current = m.membership == "join" || m.membership == "invite";
    if (!current && !(archived && (m.membership == "leave" || m.membership == "ban"))) continue;
    int64_t upper = m.membership == "join" ? upto.pos : m.stream_pos;
    DS_ASSIGN(json::object room, room_snapshot(s, user, m.room_id, m.membership, upper, limit));
    for (auto& rc : room["receipts"].as_array()) receipts.push_back(rc);
    room.erase("receipts");
    room.erase("presence");
    rooms.push_back(std::move(room));
  }
  DS_ASSIGN(auto others, s.memberships().co_members(user));
  std::set<std::string> users(others.begin(), others.end());
  users.insert(user);
  json::array presence = legacy_presence(presence_, users, 0, true);
  DS_ASSIGN(json::array account_data, account_data_events(s, user, "", 0, upto.pos));
  return json::object{{"end", upto.str()},
                      {"rooms", std::move(rooms)},
                      {"presence", std::move(presence)},
                      {"account_data", std::move(account_data)},
                      {"receipts", std::move(receipts)}};
}

Result<json::object> SyncService::room_initial_sync(const std::string& user, const std::string& room_id,
                                                    int limit) {
  presence_.syncing(user, "online");
  storage::Stores& s = rooms_.db().read();
  int64_t now_pos = rooms_.db().committed_stream_pos();
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  std::string membership = vis.current_membership();
  int64_t upper = now_pos;
  if (membership == "leave" || membership == "ban") {
    // A former member sees the room as it was when they left; a world_readable room
    // shows anyone what it is now.
    if (vis.ever_joined()) upper = vis.membership_pos();
    else if (!vis.may_read_room()) return Error::forbidden("You may not read this room");
  } else if (membership != "join" && membership != "invite") {
    if (!vis.may_read_room()) return Error::forbidden("You may not read this room");
    membership = "leave";
  }
  return room_snapshot(s, user, room_id, membership, upper, limit);
}

}  // namespace despatch
