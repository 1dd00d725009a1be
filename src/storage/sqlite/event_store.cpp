#include "storage/sqlite/event_store.h"

#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Result<StoredEvent> event_from_row(const Row& row) {
  StoredEvent e;
  e.pos = row.i64(0);
  e.event_id = row.str(1);
  DS_ASSIGN(e.pdu, parse_object_column(row.str(2), "event"));
  e.redacted_by = row.str(3);
  e.txn_device = row.str(4);
  e.txn_id = row.str(5);
  return e;
}

Result<std::optional<StoredEvent>> SqliteEventStore::event(const std::string& event_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kEventColumns + " FROM events WHERE event_id=?",
                                {event_id}));
  if (!row) return std::optional<StoredEvent>{};
  DS_ASSIGN(StoredEvent e, event_from_row(*row));
  return std::optional<StoredEvent>(std::move(e));
}

Result<std::optional<int64_t>> SqliteEventStore::stream_pos_of(const std::string& event_id,
                                                               const std::string& room_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT stream_pos FROM events WHERE event_id=? AND room_id=?",
                                {event_id, room_id}));
  if (!row) return std::optional<int64_t>{};
  return std::optional<int64_t>(row->i64(0));
}

Result<std::vector<std::string>> SqliteEventStore::rooms_changed(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT room_id FROM events WHERE stream_pos>? AND stream_pos<=?", {from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

}  // namespace despatch::storage
