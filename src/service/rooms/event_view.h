// Reading stored events and rendering them in the client format.
#pragma once

#include "core/result.h"
#include "storage/conn.h"
#include "storage/event_store.h"
#include "storage/sqlite/event_store.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch {

using storage::StoredEvent;

// Columns every event query selects, in this order, for parse_event_row. Both go once the
// event queries left in services move into the event store.
using storage::kEventColumns;
Result<StoredEvent> parse_event_row(const storage::Row& row);

Result<std::optional<StoredEvent>> load_event(storage::Conn& c, const std::string& event_id);

// Renders an event for a client: drops federation keys, applies a redaction, adds unsigned
// age and, for the sending device, transaction_id.
json::object client_event(storage::Conn& c, const StoredEvent& ev, const std::string& room_version,
                          const std::string& viewer_device = "");

}  // namespace despatch
