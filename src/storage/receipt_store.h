// Read receipts and the notifications that unread counts are made of.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct Receipt {
  std::string room_id, user_id, receipt_type, thread_id, event_id;
  int64_t event_pos = 0;  // stream position of the event read
  int64_t ts = 0;
};

struct NotificationCounts {
  int64_t notifications = 0, highlights = 0;
};

class ReceiptStore {
 public:
  virtual ~ReceiptStore() = default;

  // receipts: (room_id, user_id, receipt_type, thread_id) -> the latest receipt.
  virtual Result<std::optional<Receipt>> receipt(const std::string& room_id, const std::string& user,
                                                 const std::string& receipt_type, const std::string& thread_id) = 0;
  virtual Status put_receipt(const Receipt& r, int64_t stream_pos) = 0;
  // Receipts of the room changed in (from, to].
  virtual Result<std::vector<Receipt>> receipts_changed(const std::string& room_id, int64_t from, int64_t to) = 0;
  // Rooms with receipts changed in (from, to].
  virtual Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) = 0;
  // The stream position of the newest event the user has read in the room (m.read or
  // m.read.private, any thread), 0 when none.
  virtual Result<int64_t> read_up_to(const std::string& room_id, const std::string& user) = 0;

  // notifications: (room_id, user_id, stream_pos) -> highlight.
  virtual Status add_notification(const std::string& room_id, const std::string& user, int64_t stream_pos,
                                  bool highlight) = 0;
  // Drops the user's notifications in the room before stream_pos (they sent after them).
  virtual Status clear_notifications_before(const std::string& room_id, const std::string& user,
                                            int64_t stream_pos) = 0;
  // Notifications for the user in the room in (after, upto].
  virtual Result<NotificationCounts> count_notifications(const std::string& room_id, const std::string& user,
                                                         int64_t after, int64_t upto) = 0;
};

}  // namespace despatch::storage
