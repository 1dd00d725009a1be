// Room events: the events table (each event once, with its stream position, redaction and
// the transaction that sent it) and the transaction IDs of /send and /redact.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct StoredEvent {
  int64_t pos = 0;  // stream position
  std::string event_id;
  json::object pdu;  // as stored: federation format without event_id
  std::string redacted_by;
  std::string txn_device, txn_id;
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  virtual Result<std::optional<StoredEvent>> event(const std::string& event_id) = 0;
  // The stream position of an event of the room, nullopt when the room has no such event.
  virtual Result<std::optional<int64_t>> stream_pos_of(const std::string& event_id, const std::string& room_id) = 0;
  // Rooms with events stored in (from, to].
  virtual Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) = 0;
};

}  // namespace despatch::storage
