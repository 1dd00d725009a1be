// Reading stored events and rendering them in the client format.
#pragma once

#include "core/result.h"
#include "storage/conn.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch {

struct StoredEvent {
  int64_t pos = 0;
  std::string event_id;
  json::object pdu;  // as stored: federation format without event_id
  std::string redacted_by;
  std::string txn_device, txn_id;
};

// Columns every event query selects, in this order, for parse_event_row.
inline constexpr const char* kEventColumns =
    "stream_pos, event_id, json, redacted_by, txn_device, txn_id";
Result<StoredEvent> parse_event_row(const storage::Row& row);

Result<std::optional<StoredEvent>> load_event(storage::Conn& c, const std::string& event_id);

// Renders an event for a client: drops federation keys, applies a redaction, adds unsigned
// age and, for the sending device, transaction_id.
json::object client_event(storage::Conn& c, const StoredEvent& ev, const std::string& room_version,
                          const std::string& viewer_device = "");

}  // namespace despatch
