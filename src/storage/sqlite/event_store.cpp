#include "storage/sqlite/event_store.h"

#include <algorithm>

#include "storage/sqlite/json_column.h"

namespace despatch::storage {

namespace {
// What the timeline reads return: events of the room's history that clients may be shown.
constexpr const char* kInTimeline = "outlier=0 AND rejected IS NULL AND soft_failed=0 AND purged=0";
}  // namespace

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

Result<std::optional<EventFlags>> SqliteEventStore::flags(const std::string& event_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT outlier, rejected, soft_failed FROM events WHERE event_id=?", {event_id}));
  if (!row) return std::optional<EventFlags>{};
  EventFlags f;
  f.outlier = row->i64(0) != 0;
  f.rejected = row->str(1);
  f.soft_failed = row->i64(2) != 0;
  return std::optional(f);
}

Result<std::optional<int64_t>> SqliteEventStore::stream_pos_of(const std::string& event_id,
                                                               const std::string& room_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT stream_pos FROM events WHERE event_id=? AND room_id=?",
                                {event_id, room_id}));
  if (!row) return std::optional<int64_t>{};
  return std::optional<int64_t>(row->i64(0));
}

Result<std::vector<std::string>> SqliteEventStore::rooms_changed(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT DISTINCT room_id FROM events WHERE stream_pos>? AND stream_pos<=? AND ") +
                                    kInTimeline,
                                {from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

namespace {

Result<std::vector<StoredEvent>> events_of(const Rows& rows) {
  std::vector<StoredEvent> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    DS_ASSIGN(StoredEvent e, event_from_row(r));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<StoredEvent>> first_event(const Rows& rows) {
  if (rows.empty()) return std::optional<StoredEvent>{};
  DS_ASSIGN(StoredEvent e, event_from_row(rows.front()));
  return std::optional<StoredEvent>(std::move(e));
}

Value opt(const std::optional<std::string>& s) { return s ? Value(*s) : Value(nullptr); }
Value nonempty(const std::string& s) { return s.empty() ? Value(nullptr) : Value(s); }

}  // namespace

Status SqliteEventStore::insert(const NewEvent& e) {
  DS_TRY(c_.exec("INSERT INTO events(stream_pos, event_id, room_id, type, state_key, sender, "
                 "origin_server_ts, json, txn_device, txn_id, relates_to, rel_type, depth, outlier, rejected, "
                 "soft_failed) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 {e.pos, e.event_id, e.room_id, e.type, opt(e.state_key), e.sender, e.origin_server_ts, e.json,
                  opt(e.txn_device), opt(e.txn_id), nonempty(e.relates_to), nonempty(e.rel_type), e.depth,
                  int64_t{e.outlier ? 1 : 0}, nonempty(e.rejected), int64_t{e.soft_failed ? 1 : 0}}));
  for (auto& prev : e.prev_events)
    DS_TRY(c_.exec("INSERT INTO event_edges(event_id, prev_event_id) VALUES(?,?) ON CONFLICT DO NOTHING",
                   {e.event_id, prev}));
  return ok_status();
}

Status SqliteEventStore::mark_redacted(const std::string& target_id, const std::string& room_id,
                                       const std::string& redaction_id) {
  return c_.exec("UPDATE events SET redacted_by=? WHERE event_id=? AND room_id=? AND redacted_by IS NULL",
                 {redaction_id, target_id, room_id});
}

Result<std::vector<StoredEvent>> SqliteEventStore::room_events(const std::string& room_id, const EventRange& r) {
  std::string sql = std::string("SELECT ") + kEventColumns +
                    " FROM events WHERE room_id=? AND stream_pos>? AND stream_pos<=? AND " + std::string(kInTimeline) +
                    " ORDER BY stream_pos" +
                    (r.newest_first ? " DESC" : "") + " LIMIT ?";
  DS_ASSIGN(auto rows, c_.query(sql, {room_id, r.after, r.upto, int64_t{r.limit}}));
  return events_of(rows);
}

Result<std::vector<EventBrief>> SqliteEventStore::briefs_after(int64_t after, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT stream_pos, event_id, room_id, sender, type FROM events WHERE stream_pos>? "
                                "ORDER BY stream_pos LIMIT ?",
                                {after, limit}));
  std::vector<EventBrief> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({r.i64(0), r.str(1), r.str(2), r.str(3), r.str(4)});
  return out;
}

Result<std::optional<EventBrief>> SqliteEventStore::brief(const std::string& event_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT stream_pos, event_id, room_id, sender, type FROM events WHERE event_id=?",
                                {event_id}));
  if (!row) return std::optional<EventBrief>{};
  return std::optional<EventBrief>(EventBrief{row->i64(0), row->str(1), row->str(2), row->str(3), row->str(4)});
}

Status SqliteEventStore::purge(const std::string& event_id, const std::string& redacted_json) {
  return c_.exec("UPDATE events SET json=?, purged=1 WHERE event_id=? AND state_key IS NULL", {redacted_json, event_id});
}

Result<bool> SqliteEventStore::has_events(const std::string& room_id, int64_t after, int64_t upto) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT 1 FROM events WHERE room_id=? AND stream_pos>? AND stream_pos<=? AND ") + kInTimeline +
                                    " LIMIT 1",
                                {room_id, after, upto}));
  return row.has_value();
}

Result<std::vector<StoredEvent>> SqliteEventStore::relations(const std::string& room_id, const std::string& event_id,
                                                             const std::string& rel_type, const std::string& type,
                                                             const EventRange& r) {
  std::string sql = std::string("SELECT ") + kEventColumns +
                    " FROM events WHERE room_id=? AND relates_to=? AND (?='' OR rel_type=?) AND (?='' OR type=?) "
                    "AND stream_pos>? AND stream_pos<=? AND " + std::string(kInTimeline) + " ORDER BY stream_pos" +
                    (r.newest_first ? " DESC" : "") + " LIMIT ?";
  DS_ASSIGN(auto rows, c_.query(sql, {room_id, event_id, rel_type, rel_type, type, type, r.after, r.upto,
                                      int64_t{r.limit}}));
  return events_of(rows);
}

Result<std::optional<StoredEvent>> SqliteEventStore::latest_edit(const std::string& event_id,
                                                                 const std::string& sender) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kEventColumns +
                                    " FROM events WHERE relates_to=? AND rel_type='m.replace' AND sender=? AND "
                                    "redacted_by IS NULL AND " + kInTimeline + " ORDER BY stream_pos DESC LIMIT 1",
                                {event_id, sender}));
  return first_event(rows);
}

Result<std::vector<StoredEvent>> SqliteEventStore::state_at(const std::string& room_id, int64_t pos) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kEventColumns +
                                    " FROM events e WHERE room_id=? AND state_key IS NOT NULL AND "
                                    "stream_pos=(SELECT MAX(stream_pos) FROM events x WHERE "
                                    "x.room_id=e.room_id AND x.type=e.type AND x.state_key=e.state_key "
                                    "AND x.stream_pos<=? AND x.outlier=0 AND x.rejected IS NULL AND x.soft_failed=0)",
                                {room_id, pos}));
  return events_of(rows);
}

Result<std::optional<StoredEvent>> SqliteEventStore::state_event_at(const std::string& room_id,
                                                                    const std::string& type,
                                                                    const std::string& state_key, int64_t pos) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kEventColumns +
                                    " FROM events WHERE room_id=? AND type=? AND state_key=? AND stream_pos<=? AND " + kInTimeline +
                                    " ORDER BY stream_pos DESC LIMIT 1",
                                {room_id, type, state_key, pos}));
  return first_event(rows);
}

Result<std::vector<StoredEvent>> SqliteEventStore::visibility_events(const std::string& room_id,
                                                                     const std::string& user) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kEventColumns +
                                    " FROM events WHERE room_id=? AND ((type='m.room.member' AND state_key=?) OR "
                                    "(type='m.room.history_visibility' AND state_key='')) AND " + kInTimeline + " ORDER BY stream_pos",
                                {room_id, user}));
  return events_of(rows);
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteEventStore::member_changes(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT room_id, state_key FROM events WHERE stream_pos>? AND stream_pos<=? "
                                            "AND type='m.room.member' AND ") + kInTimeline + " ORDER BY stream_pos",
                                {from, to}));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : rows) out.emplace_back(r.str(0), r.str(1));
  return out;
}

Result<std::optional<std::string>> SqliteEventStore::txn_event(const std::string& user, const std::string& device,
                                                               const std::string& txn_id) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT event_id FROM txn_ids WHERE user_id=? AND device_id=? AND txn_id=?",
                                {user, device, txn_id}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Status SqliteEventStore::put_txn(const std::string& user, const std::string& device, const std::string& txn_id,
                                 const std::string& event_id) {
  return c_.exec("INSERT INTO txn_ids(user_id, device_id, txn_id, event_id) VALUES(?,?,?,?)",
                 {user, device, txn_id, event_id});
}

Result<std::vector<std::string>> SqliteEventStore::prev_events(const std::string& event_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT prev_event_id FROM event_edges WHERE event_id=? ORDER BY prev_event_id",
                                {event_id}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<std::vector<Extremity>> SqliteEventStore::forward_extremities(const std::string& room_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT f.event_id, COALESCE((SELECT depth FROM events e WHERE e.event_id=f.event_id), 0) "
                                "AS d FROM forward_extremities f WHERE f.room_id=? ORDER BY d DESC, f.event_id",
                                {room_id}));
  std::vector<Extremity> out;
  for (auto& r : rows) out.push_back({r.str(0), r.i64(1)});
  return out;
}

Status SqliteEventStore::advance_extremities(const std::string& room_id, const std::vector<std::string>& prev_events,
                                             const std::string& event_id) {
  for (auto& prev : prev_events)
    DS_TRY(c_.exec("DELETE FROM forward_extremities WHERE room_id=? AND event_id=?", {room_id, prev}));
  return c_.exec("INSERT INTO forward_extremities(room_id, event_id) VALUES(?,?) ON CONFLICT DO NOTHING",
                 {room_id, event_id});
}

Result<int64_t> SqliteEventStore::history_pos(int64_t depth) {
  int64_t slot = kHistoryFloor + 1 + std::clamp<int64_t>(depth, 0, kHistoryMaxDepth) * kHistorySlot;
  DS_ASSIGN(auto row, query_one(c_, "SELECT MAX(stream_pos) FROM events WHERE stream_pos BETWEEN ? AND ?",
                                {slot, slot + kHistorySlot - 1}));
  if (!row || row->is_null(0)) return slot;
  if (row->i64(0) >= slot + kHistorySlot - 1) return Error::internal("No history position left at this depth");
  return row->i64(0) + 1;
}

Result<std::vector<BackwardExtremity>> SqliteEventStore::backward_extremities(const std::string& room_id, int limit) {
  DS_ASSIGN(auto rows, c_.query("SELECT ee.prev_event_id, MAX(e.stream_pos) AS at FROM events e "
                                "JOIN event_edges ee ON ee.event_id=e.event_id "
                                "WHERE e.room_id=? AND e.outlier=0 AND NOT EXISTS (SELECT 1 FROM events p "
                                "WHERE p.event_id=ee.prev_event_id AND p.outlier=0) "
                                "GROUP BY ee.prev_event_id ORDER BY at DESC, ee.prev_event_id LIMIT ?",
                                {room_id, int64_t{limit}}));
  std::vector<BackwardExtremity> out;
  for (auto& r : rows) out.push_back({r.str(0), r.i64(1)});
  return out;
}

Status SqliteEventStore::place_in_history(const std::string& event_id, int64_t pos) {
  return c_.exec("UPDATE events SET stream_pos=?, outlier=0 WHERE event_id=?", {pos, event_id});
}

}  // namespace despatch::storage
