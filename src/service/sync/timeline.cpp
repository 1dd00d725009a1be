#include "service/sync/timeline.h"

#include "service/rooms/visibility.h"

#include <set>

namespace despatch {

using storage::Conn;

std::optional<int64_t> parse_stream_token(std::string_view token) {
  if (token.size() < 2 || (token[0] != 's' && token[0] != 't')) return std::nullopt;
  int64_t v = 0;
  size_t i = 1;
  for (; i < token.size() && token[i] >= '0' && token[i] <= '9'; ++i) {
    if (v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (token[i] - '0');
  }
  if (i == 1 || (i < token.size() && token[i] != '_')) return std::nullopt;
  return v;
}

std::string stream_token(int64_t pos) { return "s" + std::to_string(pos); }

json::array lazy_members(Conn& c, const std::vector<StoredEvent>& state,
                         const std::set<std::string>& senders, const std::string& room_version) {
  json::array out;
  for (auto& e : state) {
    if (e.pdu.at("type") != "m.room.member") continue;
    if (!senders.count(std::string(e.pdu.at("state_key").as_string()))) continue;
    out.push_back(client_event(c, e, room_version));
  }
  return out;
}

Result<json::object> Timeline::messages(const std::string& user, const std::string& device,
                                        const std::string& room_id, std::optional<int64_t> from,
                                        std::optional<int64_t> to, bool backwards, int limit,
                                        const RoomEventFilter& filter) {
  Conn& c = rooms_.db().reader();
  DS_ASSIGN(std::string version, rooms_.version_for_reader(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(c, room_id, user));
  if (vis.current_membership().empty() && !vis.may_read_room())
    return Error::forbidden("You are not in this room");
  DS_ASSIGN(auto forgotten, storage::query_one(c, "SELECT 1 FROM memberships WHERE room_id=? AND user_id=? AND forgotten=1",
                                               {room_id, user}));
  if (forgotten) return Error::forbidden("You have forgotten this room");
  int64_t start = from ? *from : (backwards ? rooms_.db().committed_stream_pos() : 0);
  limit = std::clamp(limit, 1, kMaxEventLimit);

  json::array chunk;
  std::set<std::string> senders;
  int64_t cursor = start;
  bool more = true;
  // Filters and visibility can drop rows: read in pages until the chunk is full.
  while (more && static_cast<int>(chunk.size()) < limit) {
    const int page = limit + 10;
    std::string sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE room_id=? AND " +
                      (backwards ? "stream_pos<=? ORDER BY stream_pos DESC" : "stream_pos>? ORDER BY stream_pos") +
                      " LIMIT ?";
    DS_ASSIGN(auto rows, c.query(sql, {room_id, cursor, int64_t{page}}));
    more = static_cast<int>(rows.size()) == page;
    for (auto& r : rows) {
      DS_ASSIGN(StoredEvent e, parse_event_row(r));
      if (to && (backwards ? e.pos <= *to : e.pos > *to)) {
        more = false;
        break;
      }
      cursor = backwards ? e.pos - 1 : e.pos;
      if (!vis.can_see(e) || !matches(filter, e.pdu, room_id)) continue;
      senders.insert(std::string(e.pdu["sender"].as_string()));
      chunk.push_back(client_event(c, e, version, device));
      if (static_cast<int>(chunk.size()) >= limit) break;
    }
    if (backwards && cursor <= 0) more = false;
  }
  if (more || static_cast<int>(chunk.size()) >= limit) {
    // Whether anything lies beyond the cursor decides if the client gets an `end` token.
    std::string sql = std::string("SELECT 1 FROM events WHERE room_id=? AND ") +
                      (backwards ? "stream_pos<=?" : "stream_pos>?") + (to ? (backwards ? " AND stream_pos>?" : " AND stream_pos<=?") : "") +
                      " LIMIT 1";
    storage::Params p{room_id, cursor};
    if (to) p.push_back(*to);
    DS_ASSIGN(auto next, storage::query_one(c, sql, p));
    more = next.has_value();
  }
  json::object out{{"start", stream_token(start)}, {"chunk", std::move(chunk)}};
  if (more) out["end"] = stream_token(cursor);
  if (filter.lazy_load_members && !senders.empty()) {
    DS_ASSIGN(auto state, readable_state_at(c, vis, room_id, rooms_.db().committed_stream_pos()));
    out["state"] = lazy_members(c, state, senders, version);
  }
  return out;
}

Result<json::object> Timeline::relations(const std::string& user, const std::string& device,
                                         const std::string& room_id, const std::string& event_id,
                                         const std::string& rel_type, const std::string& event_type,
                                         std::optional<int64_t> from, bool backwards, int limit) {
  Conn& c = rooms_.db().reader();
  DS_ASSIGN(std::string version, rooms_.version_for_reader(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(c, room_id, user));
  DS_ASSIGN(auto parent, load_event(c, event_id));
  if (!parent || !is_str(parent->pdu["room_id"], room_id) || !vis.can_see(*parent))
    return Error::not_found("Event not found");
  limit = std::clamp(limit, 1, kMaxEventLimit);
  int64_t start = from ? *from : (backwards ? rooms_.db().committed_stream_pos() : 0);
  std::string sql = std::string("SELECT ") + kEventColumns +
                    " FROM events WHERE room_id=? AND relates_to=? AND (?='' OR rel_type=?) AND (?='' OR type=?) AND " +
                    (backwards ? "stream_pos<=? ORDER BY stream_pos DESC" : "stream_pos>? ORDER BY stream_pos") + " LIMIT ?";
  DS_ASSIGN(auto rows, c.query(sql, {room_id, event_id, rel_type, rel_type, event_type, event_type, start,
                                     int64_t{limit + 1}}));
  json::array chunk;
  int64_t last = start;
  bool more = static_cast<int>(rows.size()) > limit;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i) {
    DS_ASSIGN(StoredEvent e, parse_event_row(rows[i]));
    last = backwards ? e.pos - 1 : e.pos;
    if (vis.can_see(e)) chunk.push_back(client_event(c, e, version, device));
  }
  json::object out{{"chunk", std::move(chunk)}};
  if (more) out["next_batch"] = stream_token(last);
  if (from) out["prev_batch"] = stream_token(*from);
  return out;
}

Result<json::object> Timeline::context(const std::string& user, const std::string& device,
                                       const std::string& room_id, const std::string& event_id,
                                       int limit, const RoomEventFilter& filter) {
  Conn& c = rooms_.db().reader();
  DS_ASSIGN(std::string version, rooms_.room_version(room_id));
  DS_ASSIGN(auto ev, load_event(c, event_id));
  if (!ev || !is_str(ev->pdu["room_id"], room_id)) return Error::not_found("Event not found");
  DS_ASSIGN(Visibility vis, Visibility::load(c, room_id, user));
  if (!vis.can_see(*ev)) return Error::not_found("Event not found");
  limit = std::clamp(limit, 0, kMaxEventLimit);
  int before_n = limit / 2, after_n = limit - before_n;

  json::object out{{"event", client_event(c, *ev, version, device)}};
  std::set<std::string> senders{std::string(ev->pdu["sender"].as_string())};
  auto page = [&](bool backwards, int n, int64_t* edge) -> Result<json::array> {
    json::array items;
    *edge = backwards ? ev->pos - 1 : ev->pos;
    if (n == 0) return items;
    std::string sql = std::string("SELECT ") + kEventColumns + " FROM events WHERE room_id=? AND " +
                      (backwards ? "stream_pos<? ORDER BY stream_pos DESC" : "stream_pos>? ORDER BY stream_pos") +
                      " LIMIT ?";
    DS_ASSIGN(auto rows, c.query(sql, {room_id, ev->pos, int64_t{n * 4 + 10}}));
    for (auto& r : rows) {
      DS_ASSIGN(StoredEvent e, parse_event_row(r));
      *edge = backwards ? e.pos - 1 : e.pos;
      if (!vis.can_see(e) || !matches(filter, e.pdu, room_id)) continue;
      senders.insert(std::string(e.pdu["sender"].as_string()));
      items.push_back(client_event(c, e, version, device));
      if (static_cast<int>(items.size()) >= n) break;
    }
    return items;
  };
  int64_t start = 0, end = 0;
  DS_ASSIGN(json::array before, page(true, before_n, &start));
  DS_ASSIGN(json::array after, page(false, after_n, &end));
  out["events_before"] = std::move(before);
  out["events_after"] = std::move(after);
  out["start"] = stream_token(std::max<int64_t>(start, 0));
  out["end"] = stream_token(end);
  // The state at the last event returned, as much of it as the caller may read.
  DS_ASSIGN(auto state, readable_state_at(c, vis, room_id, end));
  if (filter.lazy_load_members) {
    out["state"] = lazy_members(c, state, senders, version);
  } else {
    json::array all;
    for (auto& e : state) all.push_back(client_event(c, e, version));
    out["state"] = std::move(all);
  }
  return out;
}

}  // namespace despatch
