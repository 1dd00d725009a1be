// Reports from users (reports): a room, an event or a user reported as inappropriate
// (client-server "Reporting content"), kept for the administrators until they acknowledge
// them with a note.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "storage/stores.h"

namespace despatch::storage {

struct Report {
  int64_t id = 0;
  std::string kind;      // room | event | user
  std::string reporter;  // the local user who reported
  std::optional<std::string> room_id, event_id;
  std::optional<std::string> user_id;  // the reported user, or the reported event's sender
  std::string reason;
  int64_t ts = 0;
  std::optional<std::string> acknowledged_by;
  std::optional<int64_t> acknowledged_ts;  // nullopt while the report is open
  std::optional<std::string> note;         // the administrator's, with the acknowledgement
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;
  // Stores a new report (its id and acknowledgement ignored); returns its id.
  virtual Result<int64_t> add(const Report& report) = 0;
  virtual Result<std::optional<Report>> get(int64_t id) = 0;
  // Marks an open report acknowledged; false when it is unknown or acknowledged already.
  virtual Result<bool> acknowledge(int64_t id, const std::string& by, int64_t ts,
                                   const std::string& note) = 0;
  // Newest first, ids below before (0: from the newest), open ones only unless
  // include_acknowledged.
  virtual Result<std::vector<Report>> list(bool include_acknowledged, int64_t before,
                                           int64_t limit) = 0;
};

}  // namespace despatch::storage
