// Suspicious-activity alerts (alerts): what a rule of the alert engine found, kept for the
// administrators until they acknowledge it with a note.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "storage/stores.h"

namespace despatch::storage {

struct Alert {
  int64_t id = 0;
  std::string rule;      // the rule's name in [[alerts.rules]]
  std::string signal;    // what the rule counts
  std::string severity;  // low | medium | high
  std::string user_id;   // whose activity it is
  int64_t count = 0;     // signals seen within the rule's window
  std::string details;   // JSON object: the last signal's details
  int64_t ts = 0;
  std::optional<std::string> acknowledged_by;
  std::optional<int64_t> acknowledged_ts;  // nullopt while the alert is open
  std::optional<std::string> note;         // the administrator's, with the acknowledgement
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;
  // Stores a new alert (its id and acknowledgement ignored); returns its id.
  virtual Result<int64_t> add(const Alert& alert) = 0;
  virtual Result<std::optional<Alert>> get(int64_t id) = 0;
  // Marks an open alert acknowledged; false when it is unknown or acknowledged already.
  virtual Result<bool> acknowledge(int64_t id, const std::string& by, int64_t ts,
                                   const std::string& note) = 0;
  // Newest first, ids below before (0: from the newest), open ones only unless
  // include_acknowledged.
  virtual Result<std::vector<Alert>> list(bool include_acknowledged, int64_t before,
                                          int64_t limit) = 0;
};

}  // namespace despatch::storage
