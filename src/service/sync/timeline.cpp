#include "service/sync/timeline.h"

#include "service/rooms/visibility.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"

#include <set>

namespace despatch {

using storage::EventRange;

std::optional<int64_t> parse_stream_token(std::string_view token) {
  if (token.size() < 2 || (token[0] != 's' && token[0] != 't')) return std::nullopt;
  int64_t v = 0;
  // History fetched from other servers has negative positions ("s-12").
  bool negative = token.size() > 2 && token[1] == '-';
  size_t first = negative ? 2 : 1, i = first;
  for (; i < token.size() && token[i] >= '0' && token[i] <= '9'; ++i) {
    if (v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (token[i] - '0');
  }
  if (i == first || (i < token.size() && token[i] != '_')) return std::nullopt;
  return negative ? -v : v;
}

std::string stream_token(int64_t pos) { return "s" + std::to_string(pos); }

json::array lazy_members(storage::Stores& s, const std::vector<StoredEvent>& state,
                         const std::set<std::string>& senders, const std::string& room_version) {
  json::array out;
  for (auto& e : state) {
    if (e.pdu.at("type") != "m.room.member") continue;
    if (!senders.count(std::string(e.pdu.at("state_key").as_string()))) continue;
    out.push_back(client_event(s, e, room_version));
  }
  return out;
}

Result<json::object> Timeline::messages(const std::string& user, const std::string& device,
                                        const std::string& room_id, std::optional<int64_t> from,
                                        std::optional<int64_t> to, bool backwards, int limit,
                                        const RoomEventFilter& filter) {
  storage::Stores& s = rooms_.db().read();
  DS_ASSIGN(std::string version, rooms_.version_for_reader(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  if (vis.current_membership().empty() && !vis.may_read_room())
    return Error::forbidden("You are not in this room");
  DS_ASSIGN(bool forgotten, s.memberships().forgotten(room_id, user));
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
    EventRange range = backwards ? EventRange{storage::kHistoryFloor, cursor, true, page} : EventRange{cursor, INT64_MAX, false, page};
    DS_ASSIGN(auto events, s.events().room_events(room_id, range));
    more = static_cast<int>(events.size()) == page;
    for (auto& e : events) {
      if (to && (backwards ? e.pos <= *to : e.pos > *to)) {
        more = false;
        break;
      }
      cursor = backwards ? e.pos - 1 : e.pos;
      if (!vis.can_see(e) || !matches(filter, e.pdu, room_id)) continue;
      senders.insert(std::string(e.pdu["sender"].as_string()));
      chunk.push_back(client_event(s, e, version, device));
      if (static_cast<int>(chunk.size()) >= limit) break;
    }
  }
  if (more || static_cast<int>(chunk.size()) >= limit) {
    // Whether anything lies beyond the cursor decides if the client gets an `end` token.
    DS_ASSIGN(more, backwards ? s.events().has_events(room_id, to.value_or(storage::kHistoryFloor), cursor)
                              : s.events().has_events(room_id, cursor, to.value_or(INT64_MAX)));
  }
  json::object out{{"start", stream_token(start)}, {"chunk", std::move(chunk)}};
  if (more) out["end"] = stream_token(cursor);
  if (filter.lazy_load_members && !senders.empty()) {
    DS_ASSIGN(auto state, readable_state_at(s, vis, room_id, rooms_.db().committed_stream_pos()));
    out["state"] = lazy_members(s, state, senders, version);
  }
  return out;
}

Result<json::object> Timeline::relations(const std::string& user, const std::string& device,
                                         const std::string& room_id, const std::string& event_id,
                                         const std::string& rel_type, const std::string& event_type,
                                         std::optional<int64_t> from, bool backwards, int limit) {
  storage::Stores& s = rooms_.db().read();
  DS_ASSIGN(std::string version, rooms_.version_for_reader(room_id));
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  DS_ASSIGN(auto parent, load_event(s, event_id));
  if (!parent || !is_str(parent->pdu["room_id"], room_id) || !vis.can_see(*parent))
    return Error::not_found("Event not found");
  limit = std::clamp(limit, 1, kMaxEventLimit);
  int64_t start = from ? *from : (backwards ? rooms_.db().committed_stream_pos() : 0);
  EventRange range = backwards ? EventRange{storage::kHistoryFloor, start, true, limit + 1} : EventRange{start, INT64_MAX, false, limit + 1};
  DS_ASSIGN(auto events, s.events().relations(room_id, event_id, rel_type, event_type, range));
  json::array chunk;
  int64_t last = start;
  bool more = static_cast<int>(events.size()) > limit;
  for (size_t i = 0; i < events.size() && static_cast<int>(i) < limit; ++i) {
    const StoredEvent& e = events[i];
    last = backwards ? e.pos - 1 : e.pos;
    if (vis.can_see(e)) chunk.push_back(client_event(s, e, version, device));
  }
  json::object out{{"chunk", std::move(chunk)}};
  if (more) out["next_batch"] = stream_token(last);
  if (from) out["prev_batch"] = stream_token(*from);
  return out;
}

Result<json::object> Timeline::context(const std::string& user, const std::string& device,
                                       const std::string& room_id, const std::string& event_id,
                                       int limit, const RoomEventFilter& filter) {
  storage::Stores& s = rooms_.db().read();
  DS_ASSIGN(std::string version, rooms_.room_version(room_id));
  DS_ASSIGN(auto ev, load_event(s, event_id));
  if (!ev || !is_str(ev->pdu["room_id"], room_id)) return Error::not_found("Event not found");
  DS_ASSIGN(Visibility vis, Visibility::load(s, room_id, user));
  if (!vis.can_see(*ev)) return Error::not_found("Event not found");
  limit = std::clamp(limit, 0, kMaxEventLimit);
  int before_n = limit / 2, after_n = limit - before_n;

  json::object out{{"event", client_event(s, *ev, version, device)}};
  std::set<std::string> senders{std::string(ev->pdu["sender"].as_string())};
  auto page = [&](bool backwards, int n, int64_t* edge) -> Result<json::array> {
    json::array items;
    *edge = backwards ? ev->pos - 1 : ev->pos;
    if (n == 0) return items;
    EventRange range = backwards ? EventRange{storage::kHistoryFloor, ev->pos - 1, true, n * 4 + 10}
                                 : EventRange{ev->pos, INT64_MAX, false, n * 4 + 10};
    DS_ASSIGN(auto events, s.events().room_events(room_id, range));
    for (auto& e : events) {
      *edge = backwards ? e.pos - 1 : e.pos;
      if (!vis.can_see(e) || !matches(filter, e.pdu, room_id)) continue;
      senders.insert(std::string(e.pdu["sender"].as_string()));
      items.push_back(client_event(s, e, version, device));
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
  DS_ASSIGN(auto state, readable_state_at(s, vis, room_id, end));
  if (filter.lazy_load_members) {
    out["state"] = lazy_members(s, state, senders, version);
  } else {
    json::array all;
    for (auto& e : state) all.push_back(client_event(s, e, version));
    out["state"] = std::move(all);
  }
  return out;
}

}  // namespace despatch
