#include "storage/sqlite/graph_backfill.h"

#include "storage/sqlite/json_column.h"
#include "storage/sqlite/state_store.h"

namespace despatch::storage {

Status backfill_event_graph(Conn& c) {
  SqliteStateStore state(c);
  DS_ASSIGN(auto rooms, c.query("SELECT room_id FROM rooms ORDER BY room_id"));
  for (auto& room : rooms) {
    const std::string room_id = room.str(0);
    DS_ASSIGN(auto events, c.query("SELECT event_id, json, state_key IS NOT NULL FROM events WHERE room_id=? "
                                   "ORDER BY stream_pos",
                                   {room_id}));
    int64_t group = 0;
    std::string last;
    for (auto& e : events) {
      const std::string event_id = e.str(0);
      DS_ASSIGN(json::object pdu, parse_object_column(e.str(1), "event"));
      int64_t depth = 0;
      if (auto* d = pdu.if_contains("depth"); d && d->is_int64()) depth = d->as_int64();
      DS_TRY(c.exec("UPDATE events SET depth=? WHERE event_id=?", {depth, event_id}));
      if (auto* prev = pdu.if_contains("prev_events"); prev && prev->is_array())
        for (auto& p : prev->as_array())
          if (p.is_string())
            DS_TRY(c.exec("INSERT INTO event_edges(event_id, prev_event_id) VALUES(?,?) ON CONFLICT DO NOTHING",
                          {event_id, std::string(p.as_string())}));
      int64_t before = group;
      if (e.i64(2)) {
        StateDelta d{std::string(pdu["type"].as_string()), std::string(pdu["state_key"].as_string()), event_id};
        DS_ASSIGN(group, state.add_group(room_id, before, {d}));
      }
      DS_TRY(state.set_event_groups(event_id, {before, group}));
      last = event_id;
    }
    // Local history was one line: its last event is the one extremity.
    if (!last.empty())
      DS_TRY(c.exec("INSERT INTO forward_extremities(room_id, event_id) VALUES(?,?)", {room_id, last}));
  }
  return ok_status();
}

}  // namespace despatch::storage
