#pragma once

#include "storage/conn.h"
#include "storage/receipt_store.h"

namespace despatch::storage {

class SqliteReceiptStore final : public ReceiptStore {
 public:
  explicit SqliteReceiptStore(Conn& c) : c_(c) {}
  Result<std::optional<Receipt>> receipt(const std::string& room_id, const std::string& user,
                                         const std::string& receipt_type, const std::string& thread_id) override;
  Status put_receipt(const Receipt& r, int64_t stream_pos) override;
  Result<std::vector<Receipt>> receipts_changed(const std::string& room_id, int64_t from, int64_t to) override;
  Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) override;
  Result<int64_t> read_up_to(const std::string& room_id, const std::string& user) override;
  Status add_notification(const std::string& room_id, const std::string& user, int64_t stream_pos,
                          bool highlight) override;
  Status clear_notifications_before(const std::string& room_id, const std::string& user,
                                    int64_t stream_pos) override;
  Result<NotificationCounts> count_notifications(const std::string& room_id, const std::string& user,
                                                 int64_t after, int64_t upto) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
