// Reading stored events and rendering them in the client format.
#pragma once

#include "core/result.h"
#include "storage/event_store.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch {

using storage::StoredEvent;

Result<std::optional<StoredEvent>> load_event(storage::Stores& s, const std::string& event_id);

// Renders an event for a client: drops federation keys, applies a redaction, adds unsigned
// age and, for the sending device, transaction_id.
json::object client_event(storage::Stores& s, const StoredEvent& ev, const std::string& room_version,
                          const std::string& viewer_device = "");

}  // namespace despatch
