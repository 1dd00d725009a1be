#pragma once

#include "storage/conn.h"
#include "storage/event_store.h"

namespace despatch::storage {

// Columns every event query selects, in this order, for event_from_row.
inline constexpr const char* kEventColumns = "stream_pos, event_id, json, redacted_by, txn_device, txn_id";
Result<StoredEvent> event_from_row(const Row& row);

class SqliteEventStore final : public EventStore {
 public:
  explicit SqliteEventStore(Conn& c) : c_(c) {}
  Result<std::optional<StoredEvent>> event(const std::string& event_id) override;
  Result<std::optional<int64_t>> stream_pos_of(const std::string& event_id, const std::string& room_id) override;
  Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
