// The account changes log (account_changes): every deactivation, lock, suspension and
// password reset, whichever process made it. A running server follows the log, so that a
// change made by `despatch user` in another process takes effect there at once.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct AccountChange {
  int64_t seq = 0;
  std::string user_id;
  std::string action;   // deactivate | lock | unlock | suspend | unsuspend | password | reactivate
  std::string actor;    // who made it: a user ID, "cli:<login>", "scim:<token name>", "self"
  std::string details;  // JSON object
  int64_t ts = 0;
  std::optional<int64_t> done_ts;  // nullopt: a server has still to finish carrying it out
};

class AccountChangeStore {
 public:
  virtual ~AccountChangeStore() = default;
  // Appends a change (seq ignored); returns its seq.
  virtual Result<int64_t> append(const AccountChange& c) = 0;
  // Changes after seq, oldest first, at most limit.
  virtual Result<std::vector<AccountChange>> after(int64_t seq, int64_t limit) = 0;
  // The newest seq (0 when the log is empty).
  virtual Result<int64_t> last_seq() = 0;
  virtual Status mark_done(int64_t seq, int64_t ts) = 0;
  // Changes not yet carried out, oldest first.
  virtual Result<std::vector<AccountChange>> pending(int64_t limit) = 0;
};

}  // namespace despatch::storage
