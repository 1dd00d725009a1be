#include "storage/sqlite/state_store.h"

namespace despatch::storage {

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
