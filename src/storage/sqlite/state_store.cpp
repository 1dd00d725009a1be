#include "storage/sqlite/state_store.h"

namespace despatch::storage {

namespace {

Status add_entries(Conn& c, int64_t group, const StateIds& entries) {
  for (auto& [key, event_id] : entries)
    DS_TRY(c.exec("INSERT INTO state_group_entries(group_id, type, state_key, event_id) VALUES(?,?,?,?)",
                  {group, key.first, key.second, event_id}));
  return ok_status();
}

}  // namespace

Result<int64_t> SqliteStateStore::add_group(const std::string& room_id, int64_t prev_group,
                                            const std::vector<StateDelta>& delta) {
  // One writer assigns group IDs, inside its transaction (a sequence on PostgreSQL).
  DS_ASSIGN(auto next, query_one(c_, "SELECT COALESCE(MAX(id), 0) + 1 FROM state_groups"));
  int64_t id = next->i64(0);
  int64_t chain = 0;
  if (prev_group > 0) {
    DS_ASSIGN(auto prev, query_one(c_, "SELECT chain FROM state_groups WHERE id=?", {prev_group}));
    if (!prev) return Error::internal("unknown state group " + std::to_string(prev_group));
    chain = prev->i64(0) + 1;
  }
  StateIds entries;
  if (prev_group > 0 && chain > kMaxDeltaChain) {
    // Too long a chain: store the whole state, so that reading it never walks far.
    DS_ASSIGN(entries, group_state(prev_group));
    for (auto& d : delta) {
      if (d.event_id.empty()) entries.erase({d.type, d.state_key});
      else entries[{d.type, d.state_key}] = d.event_id;
    }
    prev_group = 0;
    chain = 0;
  } else {
    for (auto& d : delta) entries[{d.type, d.state_key}] = d.event_id;
  }
  DS_TRY(c_.exec("INSERT INTO state_groups(id, room_id, prev_id, chain) VALUES(?,?,?,?)",
                 {id, room_id, prev_group > 0 ? Value(prev_group) : Value(nullptr), chain}));
  DS_TRY(add_entries(c_, id, entries));
  return id;
}

Result<StateIds> SqliteStateStore::group_state(int64_t group) {
  // The chain from this group back to a whole state, then its deltas applied oldest first.
  std::vector<int64_t> chain;
  for (int64_t g = group; g > 0;) {
    chain.push_back(g);
    DS_ASSIGN(auto row, query_one(c_, "SELECT prev_id FROM state_groups WHERE id=?", {g}));
    if (!row) return Error::internal("unknown state group " + std::to_string(g));
    g = row->is_null(0) ? 0 : row->i64(0);
    if (chain.size() > static_cast<size_t>(kMaxDeltaChain) + 2) return Error::internal("state group chain too long");
  }
  StateIds out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    DS_ASSIGN(auto rows, c_.query("SELECT type, state_key, event_id FROM state_group_entries WHERE group_id=?", {*it}));
    for (auto& r : rows) {
      if (r.str(2).empty()) out.erase({r.str(0), r.str(1)});
      else out[{r.str(0), r.str(1)}] = r.str(2);
    }
  }
  return out;
}

Status SqliteStateStore::set_event_groups(const std::string& event_id, const EventStateGroups& groups) {
  return c_.exec("INSERT INTO event_state(event_id, before_group, after_group) VALUES(?,?,?) "
                 "ON CONFLICT(event_id) DO UPDATE SET before_group=excluded.before_group, "
                 "after_group=excluded.after_group",
                 {event_id, groups.before, groups.after});
}

Result<std::optional<EventStateGroups>> SqliteStateStore::event_groups(const std::string& event_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT before_group, after_group FROM event_state WHERE event_id=?", {event_id}));
  if (!row) return std::optional<EventStateGroups>{};
  return std::optional<EventStateGroups>(EventStateGroups{row->i64(0), row->i64(1)});
}

Status SqliteStateStore::set_current(const std::string& room_id, const StateEntry& e) {
  return c_.exec("INSERT INTO current_state(room_id, type, state_key, event_id, stream_pos) "
                 "VALUES(?,?,?,?,?) ON CONFLICT(room_id, type, state_key) DO UPDATE SET "
                 "event_id=excluded.event_id, stream_pos=excluded.stream_pos",
                 {room_id, e.type, e.state_key, e.event_id, e.stream_pos});
}

Result<std::vector<StateEntry>> SqliteStateStore::current(const std::string& room_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT type, state_key, event_id, stream_pos FROM current_state WHERE room_id=?",
                                {room_id}));
  std::vector<StateEntry> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.str(0), r.str(1), r.str(2), r.i64(3)});
  return out;
}

Result<std::optional<StateEntry>> SqliteStateStore::current_entry(const std::string& room_id,
                                                                  const std::string& type,
                                                                  const std::string& state_key) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT type, state_key, event_id, stream_pos FROM current_state "
                                    "WHERE room_id=? AND type=? AND state_key=?",
                                {room_id, type, state_key}));
  if (!row) return std::optional<StateEntry>{};
  return std::optional<StateEntry>(StateEntry{row->str(0), row->str(1), row->str(2), row->i64(3)});
}

}  // namespace despatch::storage
