#include "storage/sqlite/receipt_store.h"

namespace despatch::storage {

namespace {
constexpr const char* kReceiptColumns = "room_id, user_id, receipt_type, thread_id, event_id, event_pos, ts";

Receipt receipt_of(const Row& r) {
  return Receipt{r.str(0), r.str(1), r.str(2), r.str(3), r.str(4), r.i64(5), r.i64(6)};
}
}  // namespace

Result<std::optional<Receipt>> SqliteReceiptStore::receipt(const std::string& room_id, const std::string& user,
                                                           const std::string& receipt_type,
                                                           const std::string& thread_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kReceiptColumns +
                                        " FROM receipts WHERE room_id=? AND user_id=? AND receipt_type=? AND thread_id=?",
                                {room_id, user, receipt_type, thread_id}));
  if (!row) return std::optional<Receipt>{};
  return std::optional<Receipt>(receipt_of(*row));
}

Status SqliteReceiptStore::put_receipt(const Receipt& r, int64_t stream_pos) {
  return c_.exec("INSERT INTO receipts(room_id, user_id, receipt_type, thread_id, event_id, event_pos, "
                 "ts, stream_pos) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(room_id, user_id, receipt_type, "
                 "thread_id) DO UPDATE SET event_id=excluded.event_id, event_pos=excluded.event_pos, "
                 "ts=excluded.ts, stream_pos=excluded.stream_pos",
                 {r.room_id, r.user_id, r.receipt_type, r.thread_id, r.event_id, r.event_pos, r.ts, stream_pos});
}

Result<std::vector<Receipt>> SqliteReceiptStore::receipts_changed(const std::string& room_id, int64_t from,
                                                                  int64_t to) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kReceiptColumns +
                                    " FROM receipts WHERE room_id=? AND stream_pos>? AND stream_pos<=?",
                                {room_id, from, to}));
  std::vector<Receipt> out;
  for (auto& r : rows) out.push_back(receipt_of(r));
  return out;
}

Result<std::vector<std::string>> SqliteReceiptStore::rooms_changed(int64_t from, int64_t to) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT room_id FROM receipts WHERE stream_pos>? AND stream_pos<=?",
                                {from, to}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<int64_t> SqliteReceiptStore::read_up_to(const std::string& room_id, const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT MAX(event_pos) FROM receipts WHERE room_id=? AND "
                                    "user_id=? AND receipt_type IN ('m.read','m.read.private')",
                                {room_id, user}));
  return row && !row->is_null(0) ? row->i64(0) : int64_t{0};
}

Status SqliteReceiptStore::add_notification(const std::string& room_id, const std::string& user, int64_t stream_pos,
                                            bool highlight) {
  return c_.exec("INSERT INTO notifications(room_id, user_id, stream_pos, highlight) VALUES(?,?,?,?)",
                 {room_id, user, stream_pos, int64_t{highlight ? 1 : 0}});
}

Status SqliteReceiptStore::clear_notifications_before(const std::string& room_id, const std::string& user,
                                                      int64_t stream_pos) {
  return c_.exec("DELETE FROM notifications WHERE room_id=? AND user_id=? AND stream_pos<?",
                 {room_id, user, stream_pos});
}

Result<NotificationCounts> SqliteReceiptStore::count_notifications(const std::string& room_id,
                                                                   const std::string& user, int64_t after,
                                                                   int64_t upto) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*), COALESCE(SUM(highlight),0) FROM notifications "
                                    "WHERE room_id=? AND user_id=? AND stream_pos>? AND stream_pos<=?",
                                {room_id, user, after, upto}));
  return NotificationCounts{row ? row->i64(0) : 0, row ? row->i64(1) : 0};
}

}  // namespace despatch::storage
