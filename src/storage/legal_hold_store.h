// Legal holds (legal_holds): a case's hold on the records of a user, a room and/or a time
// range; retention deletes nothing an active hold covers.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct LegalHold {
  int64_t id = 0;
  std::string case_ref;
  std::optional<std::string> user_id, room_id;  // nullopt: any
  std::optional<int64_t> from_ts, to_ts;         // nullopt: unbounded
  std::string placed_by;
  int64_t placed_ts = 0;
  std::optional<std::string> lifted_by;
  std::optional<int64_t> lifted_ts;  // nullopt while the hold is active
};

class LegalHoldStore {
 public:
  virtual ~LegalHoldStore() = default;
  // Stores a new hold (its id and lifted fields ignored); returns its id.
  virtual Result<int64_t> place(const LegalHold& hold) = 0;
  // The hold with this id, nullopt when there is none or it was lifted.
  virtual Result<std::optional<LegalHold>> active(int64_t id) = 0;
  virtual Status lift(int64_t id, const std::string& lifted_by, int64_t lifted_ts) = 0;
  // Active holds (and lifted ones too when include_lifted), by id.
  virtual Result<std::vector<LegalHold>> list(bool include_lifted) = 0;
};

}  // namespace despatch::storage
